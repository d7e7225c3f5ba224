"""Remove secrets written inside free text: definitions, comments, query texts, log lines, messages.

A password, key or token can sit anywhere a user wrote text: a conninfo in a function body, an
environment-style assignment in a comment, a JSON document in a column default, a URI with
``user:password@``. Every free-text value that leaves goes through the detectors below, whether
masking is on or not, and what they find is replaced in place by ``[REDACTED]``.

The detectors follow the rules of a well-kept secret scanner (detect-secrets' plugins): secret-
sounding keys in any common assignment syntax, credentials in URIs, private key blocks, JWTs,
bearer tokens, and the shapes of cloud and SaaS keys (AWS, GitHub, GitLab, Slack, Stripe...).
They are written once, for Python and for PostgreSQL's regular expressions (the extractor has the
server redact what it renders itself): only the word boundary differs. docs/security.md lists
what is caught and what cannot be.
"""

import re
from typing import Any, Optional, overload

REDACTED = "[REDACTED]"

# -- secret-sounding keys -------------------------------------------------------------------------
# detect-secrets' keyword list, plus what cloud settings and conninfos call their secrets. A key
# may carry a prefix or suffix (DB_PASSWORD, AWS_SECRET_ACCESS_KEY, password_file): the match is
# the whole identifier around the keyword.
_KEYWORDS = ("password", "passwd", "pwd", "pass_?phrase", "secret", "contrase(?:ñ|n)a", "api_?key", "auth_?key",
             "service_?key", "account_?key", "access_?key", "db_?key", "database_?key", "priv_?key",
             "private_?key", "client_?key", "db_?pass", "database_?pass", "key_?pass", "credentials?")
# Keys that end an identifier (access_token, AWS_SESSION_TOKEN; not token_type or tokenizer).
_SUFFIX_KEYWORDS = ("token",)
# Keys that are whole words only (SAS's sig=, pw=, pass=), and SQL's IDENTIFIED BY.
_WORD_KEYWORDS = ("sig", "pw", "pass", r"identified\s+by")
_NAMES = (
    r"[\w.-]*(?:" + "|".join(_KEYWORDS) + r")[\w.-]*",
    r"[\w.-]*(?:" + "|".join(_SUFFIX_KEYWORDS) + r")\b",
    r"\b(?:" + "|".join(_WORD_KEYWORDS) + r")\b",
)
# A key starts a word, maybe quoted (the quote escaped inside a JSON string), and may be followed
# by closing quotes or a bracket ("password": , ['password'] =).
_KEY = r"""(?<![\w.-])(?:\\?["'`])?(?:""" + "|".join(_NAMES) + r""")(?:\\?["'`\]]){0,2}"""
# Assignment operators: =, ==, :=, =>, : (never the :: of a cast), !=.
_OPERATOR = r"(?:=>|==|=|:=|:(?!:)|!=)"
# A quoted value, quotes included: single quotes doubled twice or once in nested SQL literals
# (dynamic SQL in a literal, a conninfo in a literal), single quotes (SQL or conninfo escaping),
# double quotes, escaped double quotes (JSON inside a JSON string), backquotes.
_QUOTED = "(?:" + "|".join((
    r"''''(?:[^']|'''''''')*''''",
    r"''(?:[^']|'''')*''",
    r"'(?:[^'\\]|\\.|'')*'",
    r'"(?:[^"\\]|\\.)*"',
    r'\\"(?:[^"\\]|\\[^"])*\\"',
    r"`[^`]*`",
)) + ")"
# A bare value, up to white space, a quote or a separator; never a call (password_hash=crypt(...)).
_BARE = r"""(?![^\s'"`;&|,()]*\()[^\s'"`;&|,()=<>][^\s'"`;&|,()]*"""
# A declared type between a key and its assignment (PL/pgSQL: db_password text := '...'; a default).
_DECLARED = r"(?:\s+(?:constant\s+)?[a-z_][\w.]*(?:\([0-9, ]*\))?(?:\[\])?)?"
_ASSIGNMENTS = (
    # key=value, key: value, "key":"value", KEY=>value: written tight, the value may be bare.
    r"(" + _KEY + _OPERATOR + r"\s*)(?:" + _QUOTED + "|" + _BARE + ")",
    # key = 'value', key := 'value', key text DEFAULT 'value', PASSWORD 'value': the value quoted.
    r"(" + _KEY + r"(?:" + _DECLARED + r"\s*(?:" + _OPERATOR + r"""|\s+default\b)\s*|\s+(?=\\?['"`]))\s*)"""
    + _QUOTED,
)
# -- shapes that are secrets wherever they are ---------------------------------------------------
_CASELESS_SHAPES = (
    # user:password@ in a URI (postgresql://, https://, ...); the user may be empty.
    r"""(\b[a-z][a-z0-9+.-]*://[^/\s:@'"]*:)[^@\s'"/]+(?=@)""",
    # HTTP bearer tokens; a word of prose after "bearer" is not one.
    r"(\bbearer\s+)[a-z0-9._~+/-]{16,}=*",
    # A 40-character AWS secret access key quoted near "aws" and a key word.
    r"""(\baws[\w.-]{0,20}(?:key|pwd|pw|password|pass|token)[^'"\n]{0,20}['"])[a-z0-9/+]{40}(?=['"])""",
    # Private key blocks, header to footer (or to the end, when cut short).
    r"-----begin[a-z0-9 ]*private key[a-z ]*-----(?:[^-]|-(?!----))*(?:-----end[a-z0-9 ]*-----)?",
    r"putty-user-key-file-[0-9]+:(?:[^p]|p(?!rivate-mac))*(?:private-mac:[ ]*[0-9a-f]+)?",
    r"xox[abposr]-(?:[0-9]+-)+[a-z0-9]+",
    r"https://hooks\.slack\.com/services/t[a-z0-9_]+/b[a-z0-9_]+/[a-z0-9_]+",
)
_CASED_SHAPES = (
    r"(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}",  # AWS access key ids
    r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36,}|github_pat_[A-Za-z0-9_]{22,}",  # GitHub
    r"(?:glpat|gldt|glft|glsoat|glrt|glcbt|glimt|glptt|glagent|gloas)-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|GR1348941[A-Za-z0-9_-]{20,}",
    r"[rs]k_(?:live|test)_[0-9a-zA-Z]{24,}",  # Stripe
    r"eyJ[A-Za-z0-9_=-]+\.[A-Za-z0-9_=-]+\.?[A-Za-z0-9_.+/=-]*",  # JWT
    r"sk-[A-Za-z0-9_-]*T3BlbkFJ[A-Za-z0-9_-]+",  # OpenAI
    r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",  # SendGrid
    r"sq0csp-[0-9A-Za-z_-]{43}",  # Square
    r"pypi-AgE[A-Za-z0-9_-]{70,}",  # PyPI
    r"npm_[A-Za-z0-9]{36}",  # npm
    r"[0-9a-z]{32}-us[0-9]{1,2}",  # Mailchimp
    r"\bAKC[a-zA-Z0-9]{10,}",  # Artifactory
)
# What every match of the caseless detectors (keys, URIs, bearer tokens, private keys, Slack)
# and of the cased ones (shapes) contains, in lower case (any case matches): text holding none of
# a set is left alone by its detectors (most definitions), a test far cheaper than they are.
# tests/test_secrets.py checks that the detectors find nothing without them. Shapes that have no
# such piece (Twilio, Discord, Telegram tokens) are not looked for: see docs/security.md.
KEY_ANCHORS = (
    "pass", "pw", "secret", "contrase", "credential", "token", "sig", "identified", "aws", "://", "bearer",
    "-----begin", "putty-user-key", "xox",
    *(f"{k}{sep}key" for k in ("api", "auth", "service", "account", "access", "db", "database", "priv", "private",
                               "client") for sep in ("_", "")),
)
SHAPE_ANCHORS = (
    "a3t", "abia", "acca", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "gldt-",
    "glft-", "glsoat-", "glrt-", "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-", "gr1348941", "k_live_",
    "k_test_", "eyj", "t3blbkfj", "sg.", "sq0csp-", "pypi-age", "npm_", "-us", "akc",
)

CASELESS_PATTERN = "|".join((*_ASSIGNMENTS, *_CASELESS_SHAPES))
CASED_PATTERN = "|".join(_CASED_SHAPES)
# Each detector keeps its own group (the key and operator, or the URI up to the password), if it
# has one, and drops the secret; a group that did not take part is empty in both dialects.
REPLACEMENT = "".join(rf"\{n}" for n in range(1, re.compile(CASELESS_PATTERN).groups + 1)) + REDACTED


def sql_pattern(pattern: str) -> str:
    """``pattern`` for PostgreSQL's advanced regular expressions, whose word boundary is \\y."""
    return pattern.replace(r"\b", r"\y")


_CASELESS = re.compile(CASELESS_PATTERN, re.IGNORECASE)
_CASED = re.compile(CASED_PATTERN)
SQL_CASELESS, SQL_CASED = sql_pattern(CASELESS_PATTERN), sql_pattern(CASED_PATTERN)


def _alternatives(words: "tuple[str, ...]") -> str:
    """A regular expression matching any of ``words``, factored by common prefixes: PostgreSQL
    sets up a matcher per value, at a cost that grows with the expression's states."""
    tree: dict = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def factored(node: dict) -> str:
        branches = [re.escape(char) + factored(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        group = branches[0] if len(branches) == 1 and "" not in node else "(?:" + "|".join(branches) + ")"
        return group + "?" if "" in node else group

    return factored(tree)




def _sql_anchors(anchors: "tuple[str, ...]") -> str:
    """The server's test of ``anchors``, case-insensitive (~*); one that holds a shorter one is left out."""
    return _alternatives(tuple(a for a in anchors if not any(b != a and b in a for b in anchors)))


SQL_KEY_ANCHORS, SQL_SHAPE_ANCHORS = _sql_anchors(KEY_ANCHORS), _sql_anchors(SHAPE_ANCHORS)
# PostgreSQL sets up a regular expression per value at a cost that grows with its size, and the
# anchors are large: values are first tried with a small expression that every secret written
# where the value comes from matches (case-sensitive, ~). Which one depends on where user text
# can sit in the value:
SQL_TRIGGERS = {
    # Deparsed definitions (views, constraints, indexes, defaults, triggers) hold user text only in
    # literals ('...'), function definitions in $-quoted bodies (or a literal).
    "code": r"['$]",
    # JSON the collector builds (PROPERTIES, DETAIL): user text sits in strings, as an option or
    # setting (k=v), a deparsed literal ('...'), or as JSON of its own, quotes escaped (\"key\":);
    # a colon that follows a quote is JSON's own, an escaped quote alone is in an object's id.
    "json": r"""[=']|[^"]:|\\":""",
    # Comments: anything a person wrote; the shapes of keys as well.
    "prose": r"""[=:'"`$\\]|-----|[_-]|A(?:[KS]IA|BIA|CCA|3T|KC)|GR1348941|eyJ|SG\.|[Bb]earer|BEARER""",
}


@overload
def redact_credentials(text: str) -> str: ...


@overload
def redact_credentials(text: None) -> None: ...


def redact_credentials(text: Optional[str]) -> Optional[str]:
    """``text`` with every secret the detectors find replaced by ``[REDACTED]``; ``None`` stays ``None``."""
    if not text:
        return text
    lowered = text.lower()
    # Both sets are looked for in the text as given, as the server does.
    keyed, shaped = (any(anchor in lowered for anchor in anchors) for anchors in (KEY_ANCHORS, SHAPE_ANCHORS))
    if keyed:
        text = _CASELESS.sub(REPLACEMENT, text)
    return _CASED.sub(REDACTED, text) if shaped else text


def redact_document(document: Any) -> Any:
    """A JSON-like document (the manifest) with every string in it redacted."""
    if isinstance(document, str):
        return redact_credentials(document)
    if isinstance(document, dict):
        return {key: redact_document(value) for key, value in document.items()}
    if isinstance(document, (list, tuple)):
        return [redact_document(value) for value in document]
    return document
