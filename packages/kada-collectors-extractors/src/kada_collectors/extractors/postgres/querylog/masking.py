"""Masking query text: no literal value, no comment, ever leaves; masking never fails open.

1. PostgreSQL's own grammar (pglast's ``normalize``, libpg_query) replaces every constant it parses
   with ``$n``: strings of every kind, numbers, passwords in CREATE/ALTER ROLE, whole DO bodies.
2. The result is then scanned token by token: comments are dropped and any literal the grammar
   left (``EXECUTE p('x')`` arguments, ``COPY ... FROM '/path'``) becomes a placeholder too.
3. Text the grammar cannot parse (truncated, another dialect) skips step 1: the scan masks it
   lexically. Text even the scanner rejects (an unterminated quote) is replaced whole by a marker.
"""

from pglast.parser import ParseError, normalize, scan

LITERAL_TOKENS = frozenset({"SCONST", "USCONST", "BCONST", "XCONST", "ICONST", "FCONST", "PARAM"})
COMMENT_TOKENS = frozenset({"C_COMMENT", "SQL_COMMENT"})
UNPARSABLE = "<statement not parsable: masked>"


def mask_query(text):
    """``text`` with every literal replaced by a ``$n`` placeholder and comments removed."""
    if not text:
        return text
    try:
        normalized = normalize(text)
    except ParseError:
        normalized = text
    except Exception:  # noqa: BLE001 - whatever the parser does, never pass the text through
        return UNPARSABLE
    try:
        return _lexical(normalized)
    except Exception:  # noqa: BLE001
        return UNPARSABLE


def _lexical(text):
    tokens = scan(text)
    numbers = [int(text[t.start + 1:t.end + 1]) for t in tokens
               if t.name == "PARAM" and text[t.start + 1:t.end + 1].isdigit()]
    next_number = max(numbers, default=0) + 1
    pieces, position = [], 0
    for token in tokens:
        gap = text[position:token.start]
        # Between tokens there is only white space; anything else the scanner skipped is dropped.
        pieces.append(gap if gap.isspace() or not gap else " ")
        if token.name in COMMENT_TOKENS:
            pieces.append(" ")
        elif token.name in LITERAL_TOKENS and token.name != "PARAM":
            pieces.append(f"${next_number}")
            next_number += 1
        else:
            pieces.append(text[token.start:token.end + 1])
        position = token.end + 1
    tail = text[position:]
    pieces.append(tail if tail.isspace() else "")
    return "".join(pieces).strip()
