"""Schemathesis' check for the runs without a valid token (fuzz/run.py loads it with SCHEMATHESIS_HOOKS)."""
import schemathesis


@schemathesis.check
def refused_without_a_valid_token(ctx, response, case):
    """An operation that declares a security requirement never answers 2xx to these runs' requests."""
    operation = case.operation
    requirements = operation.definition.raw.get("security", operation.schema.raw_schema.get("security", []))
    if any(requirements) and 200 <= response.status_code < 300:
        raise AssertionError(f"{operation.label} answered {response.status_code} without a valid token")
    return None
