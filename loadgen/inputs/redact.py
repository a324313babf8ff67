"""Keep secrets out of everything loadgen shows or stores.

Two shapes of secret reach loadgen by mistake: credentials inside a URL (`user:pass@`, a
`?token=` query, a fragment) and a token value pasted where an environment-variable name
belongs. `targets.toml` refuses both (see `targets.py`); these functions are the defence in
depth used wherever a URL or a text that may quote one is printed or written. (The
artifact's `target.url` goes through `results.public_url`, whose schema admits no `@`.)
"""

from __future__ import annotations

import re

MASK = "***"
# scheme://[userinfo@]host[/path][?query][#fragment]; as in `redact_url`, everything up to
# the LAST "@" before the query is hidden (a password may hold `/`, `:` or `@`).
_URL = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^?#\s'\"<>]*@)?"
    r"(?P<rest>[^?#\s'\"<>]*)(?P<query>\?[^#\s'\"<>]*)?(?P<fragment>#[^\s'\"<>]*)?"
)
# A usable credential reference is an upper-case environment variable name.
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
# Prefixes of real tokens (PostHog, Stripe-style, GitHub, GitLab, Slack, AWS, JWT, HTTP auth).
_SECRET_PREFIX = re.compile(
    r"^(phc_|phx_|sk_|sk-|pk_|rk_|ghp_|gho_|ghs_|github_pat_|glpat-|xox[abprs]-|eyJ"
    r"|AKIA[A-Z0-9]{16}$|ASIA[A-Z0-9]{16}$|Bearer\s|Basic\s)"
)
_HIGH_ENTROPY_RUN = re.compile(r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{16,}")


def redact_url(url: str) -> str:
    """`url` with its userinfo, query and fragment each replaced by `***`; never raises.

    Split by hand rather than with the text pattern: a password may hold any character,
    even `/`, so everything up to the last `@` before the query is hidden.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, hash_mark, _ = rest.partition("#")
    rest, question_mark, _ = rest.partition("?")
    if "@" in rest:
        rest = f"{MASK}@{rest.rpartition('@')[2]}"
    query = f"?{MASK}" if question_mark else ""
    fragment = f"#{MASK}" if hash_mark else ""
    return f"{scheme}://{rest}{query}{fragment}"


def redact_urls(text: str) -> str:
    """`text` with every URL in it redacted (for error texts that may quote a URL).

    A URL ends at white space or a quote here, so this is best effort: `targets.toml`
    refuses such URLs outright, and this only guards texts that quote one anyway.
    """
    return _URL.sub(_mask, text)


def url_has_secret_parts(url: str) -> bool:
    """True when `url` carries userinfo, a query or a fragment (a base URL has none)."""
    return redact_url(url) != url


def looks_like_secret(text: str) -> bool:
    """True when `text`, given as an environment-variable name, is probably a secret value.

    It is, when it starts with a known token prefix (phc_, sk_, ghp_, AKIA…, eyJ…), holds a
    character no variable name has (anything but letters, digits and `_`), or has a run of
    16 or more letters and digits mixing both without an `_` (names are words joined by `_`;
    tokens are not). Lower case alone is not a secret: such a name is refused all the same,
    with a different message (see `targets.py`).
    """
    return bool(
        _SECRET_PREFIX.match(text)
        or re.search(r"[^A-Za-z0-9_]", text)
        or _HIGH_ENTROPY_RUN.search(text)
    )


def bad_variable_name(var: object) -> str | None:
    """Why `var` cannot name a credential's environment variable, or None if it can.

    The message never quotes `var`: when it is a pasted token, it would land in CI logs.
    """
    if isinstance(var, str) and looks_like_secret(var):
        return (
            "this looks like a secret value, not a variable name (not shown here): "
            "credentials name the environment variables that hold them"
        )
    if not isinstance(var, str) or not ENV_NAME_RE.match(var):
        return (
            "must be the NAME of an environment variable: upper-case letters, digits and _, "
            "not starting with a digit"
        )
    return None


def variable_name_fix(key: str) -> str:
    """How to name the variable for credential `key` (and what to do if a secret leaked)."""
    example = {"token": "POSTHOG_TOKEN", "write_key": "SEGMENT_WRITE_KEY"}.get(key)
    example = example or f"CIO_{key.upper()}"
    return (
        f'write credentials.{key} = "{example}" and export {example} where loadgen runs; '
        "if a real secret was pasted here, rotate it"
    )


def _mask(match: re.Match[str]) -> str:
    userinfo = f"{MASK}@" if match["userinfo"] else ""
    query = f"?{MASK}" if match["query"] else ""
    fragment = f"#{MASK}" if match["fragment"] else ""
    return f"{match['scheme']}{userinfo}{match['rest']}{query}{fragment}"


__all__ = [
    "ENV_NAME_RE",
    "bad_variable_name",
    "looks_like_secret",
    "redact_url",
    "redact_urls",
    "url_has_secret_parts",
    "variable_name_fix",
]
