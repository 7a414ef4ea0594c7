"""JSON as the API's bodies and the import's backups read it: bounded in nesting depth and integer digits.

Python's json recurses once per level and raises RecursionError (no ValueError) when a document nests
deeper than the stack allows, and an integer past sys.get_int_max_str_digits() is a ValueError that is
no JSONDecodeError: both escaped as a 500. Here each is a JSONOutOfBounds, a ValueError that says why.
"""
import json
from collections.abc import Callable

# The deepest nesting read: a backup is 5 levels deep (docs/formats.md), a request body 1. Far below
# Python's recursion limit (1,000 frames), so that nothing that walks or quotes what was read can
# run out of stack either.
MAX_DEPTH = 32
# The most digits of an integer: neither holds one but the backup's version. Python's own limit (4,300)
# would answer with advice to raise it; and a conversion's cost grows faster than its digits.
MAX_INT_DIGITS = 100


class JSONOutOfBounds(ValueError):
    """Text that may be JSON, but nested or numbered past what this service reads."""


def too_deep() -> JSONOutOfBounds:
    return JSONOutOfBounds(f"nested deeper than {MAX_DEPTH} levels")


def bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise JSONOutOfBounds(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(digits)


def loads(text: str, parse_constant: Callable | None = None):
    """The document; json.JSONDecodeError where the text is not JSON, JSONOutOfBounds where it is too much."""
    try:
        document = json.loads(text, parse_int=bounded_int, parse_constant=parse_constant)
    except RecursionError:
        raise too_deep() from None
    if deeper_than(document, MAX_DEPTH):
        raise too_deep()
    return document


def deeper_than(document, limit: int) -> bool:
    """Whether lists and objects nest deeper than limit levels, walked level by level: no recursion."""
    level = [document] if isinstance(document, (dict, list)) else []
    for _ in range(limit):
        level = [item for value in level for item in (value.values() if isinstance(value, dict) else value)
                 if isinstance(item, (dict, list))]
        if not level:
            return False
    return True
