"""The README's configuration table lists every environment variable timeslot/settings.py reads (itself, or by
the module it calls for LOG_FORMAT), and no other: read from their source, so that a variable added there without
its row fails here."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ROOT / "timeslot" / "settings.py"
# What the settings call to read a variable that gunicorn.conf.py reads alike: LOG_FORMAT.
READ_FOR_THE_SETTINGS = [ROOT / "timeslot" / "log_lines.py"]
README = ROOT / "README.md"


def is_environ(node: ast.AST) -> bool:
    """`os.environ`."""
    return isinstance(node, ast.Attribute) and node.attr == "environ" and getattr(node.value, "id", None) == "os"


def environment_reads(tree: ast.AST) -> list[tuple[ast.AST, ast.expr]]:
    """Each read of the environment below the node, and the expression that names the variable:
    os.environ.get(NAME, ...), os.environ[NAME], os.getenv(NAME, ...)."""
    reads = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            reads.append((node, node.slice))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            function = node.func
            if (function.attr == "get" and is_environ(function.value)) or (
                function.attr == "getenv" and getattr(function.value, "id", None) == "os"
            ):
                reads.append((node, node.args[0]))
    return reads


def literal(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def variables_read(source: str) -> set[str]:
    """The names the settings read, directly or through a function of theirs that reads the variable its
    argument names (env_bool, env_list)."""
    module = ast.parse(source)
    functions = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    readers = {function.name for function in functions
               if any(literal(name) is None for _, name in environment_reads(function))}
    inside_readers = {id(node) for function in functions if function.name in readers for node in ast.walk(function)}
    names = set()
    for node, name in environment_reads(module):
        # Anywhere else, a name that is not written out could be any variable: no table could follow it.
        assert literal(name) or id(node) in inside_readers, f"line {node.lineno}: a variable not named"
        names.add(literal(name))
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in readers:
            assert literal(node.args[0]), f"line {node.lineno}: a variable not named"
            names.add(literal(node.args[0]))
    return names - {None}


def configuration_table(readme: str) -> set[str]:
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section, re.MULTILINE))


def test_the_settings_are_read_in_every_form_they_use():
    read = variables_read(SETTINGS.read_text())

    # os.environ.get, os.environ[...] and env_bool/env_list, each seen.
    assert {"SECRET_KEY", "REDIS_URL", "DEBUG", "ALLOWED_HOSTS", "STATEMENT_TIMEOUT_MS"} <= read


def test_a_variable_read_by_a_function_of_the_settings_or_in_any_form_is_found():
    source = (
        "import os\n"
        "def env_int(name, default):\n    return int(os.environ.get(name, default))\n"
        "A = env_int('FIRST', 1)\nB = os.environ['SECOND']\nC = os.getenv('THIRD')\n"
        "D = f\"{os.environ.get('FOURTH')}\"\n"
    )

    assert variables_read(source) == {"FIRST", "SECOND", "THIRD", "FOURTH"}
    with pytest.raises(AssertionError, match="line 2: a variable not named"):
        variables_read("import os\nA = os.environ.get('PREFIX_' + 'NAME')\n")


# Read by a package the service runs, not by the settings, and set in the same environment.
READ_BY_PACKAGES = {"PROMETHEUS_MULTIPROC_DIR"}  # prometheus-client's multiprocess mode


def test_the_readme_configuration_table_lists_every_variable_the_settings_read_and_no_other():
    read = set().union(*(variables_read(path.read_text()) for path in [SETTINGS, *READ_FOR_THE_SETTINGS]))
    read |= READ_BY_PACKAGES
    listed = configuration_table(README.read_text())

    assert sorted(read - listed) == [], "read by timeslot/settings.py, missing from the README's table"
    assert sorted(listed - read) == [], "in the README's table, never read by timeslot/settings.py"
