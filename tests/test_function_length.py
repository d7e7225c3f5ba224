"""No function of the packages runs over 60 lines unless a comment in it says why (the rule of
the code's layout, README): this lists those that do not, with where they are."""

import ast
import re
from pathlib import Path

PACKAGES = Path(__file__).parents[1] / "packages"
LIMIT = 60
REASON = re.compile(r"#.*\bover 60 lines\b", re.IGNORECASE)


def long_functions() -> list[tuple[str, str, int, int, bool]]:
    """(file, function, first line, lines, whether a comment in it gives the reason) of each
    function over ``LIMIT`` lines."""
    found = []
    for path in sorted(PACKAGES.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > LIMIT:
                    body = "\n".join(lines[node.lineno - 1:node.end_lineno])
                    found.append((str(path.relative_to(PACKAGES)), node.name, node.lineno, length,
                                  REASON.search(body) is not None))
    return found


def test_every_long_function_says_why():
    unexplained = [f"{file}:{line} {name} ({length} lines)" for file, name, line, length, why in long_functions()
                   if not why]
    assert unexplained == [], "split these, or say in a comment why they run over 60 lines"


def test_the_listing_finds_long_functions(tmp_path, monkeypatch):
    """The check itself: a function of 61 lines without a reason is listed, with one it is not."""
    body = "".join(f"    x{i} = {i}\n" for i in range(LIMIT))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n\ndef explained():\n    # over 60 lines: a table\n{body}")
    monkeypatch.setitem(globals(), "PACKAGES", tmp_path)
    assert [(name, length, why) for _, name, _, length, why in long_functions()] == [
        ("long", LIMIT + 1, False), ("explained", LIMIT + 2, True)]
