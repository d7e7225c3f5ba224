"""An object's id (docs/contract.md, "Object identity"): one definition for the SQL statements and
one for Python, which tests/test_object_ids.py holds to agree on a real server.

An id is a dotted path of names, each written as PostgreSQL's ``quote_ident()`` writes it: the
host (as onboarded in the catalog), the database, then the object's own names (schema, table,
column...). A role's or a database's id starts at the host. Kinds whose names do not tell them
apart add their part after the path (a function's argument types, an operator class's method).
"""

import re

from pglast.keywords import COL_NAME_KEYWORDS, RESERVED_KEYWORDS, TYPE_FUNC_NAME_KEYWORDS

_SIMPLE = re.compile(r"[a-z_][a-z0-9_]*\Z")
_QUOTED_KEYWORDS = RESERVED_KEYWORDS | TYPE_FUNC_NAME_KEYWORDS | COL_NAME_KEYWORDS


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident(): quote unless lower-case simple and not a (non-unreserved) keyword."""
    if _SIMPLE.match(name) and name not in _QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def object_id(host: str, *names: str) -> str:
    """The id of the object ``names`` (from the database's name on, or a role's) on ``host``."""
    return ".".join(quote_ident(name) for name in (host, *names))


def child_id(parent_id: str, *names: str) -> str:
    """The id of an object named ``names`` within the object ``parent_id`` (a table's column...)."""
    return ".".join((parent_id, *(quote_ident(name) for name in names)))


# -- the same, for the SQL statements (sql/*.sql) ---------------------------------------------------

# The statements' placeholder of the host (see statements.py).
HOST = "{0}"


def sql_object_id(*names: str, host: str = HOST) -> str:
    """The SQL expression of ``object_id``: ``names`` are SQL expressions of the names, ``host``
    that of the host."""
    return " || '.' || ".join(f"quote_ident({name})" for name in (host, *names))


# In a shipped statement, {object_id(n.nspname, c.relname)} stands for the id of an object of the
# database it runs in, {server_object_id(r.rolname)} for one of the server's (a role, a database).
_MACRO = re.compile(r"\{(object_id|server_object_id)\((.*?)\)\}", re.DOTALL)


def expand_object_ids(text: str) -> str:
    """``text`` with its id macros written out as SQL (``sql_object_id``)."""
    def expand(match: re.Match[str]) -> str:
        names = split_arguments(match.group(2))
        return sql_object_id(*(["current_database()"] if match.group(1) == "object_id" else []), *names)
    return _MACRO.sub(expand, text)


def split_arguments(text: str) -> list[str]:
    """The comma-separated SQL expressions of ``text``, commas within parentheses kept."""
    arguments: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            arguments.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    arguments.append("".join(current).strip())
    return [argument for argument in arguments if argument]
