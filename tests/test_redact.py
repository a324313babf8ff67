"""URL redaction and the shape of a secret pasted as a variable name (`loadgen.inputs.redact`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadgen.inputs.origin import parse_origin
from loadgen.inputs.redact import (
    bad_variable_name,
    looks_like_secret,
    redact_url,
    redact_urls,
    url_has_secret_parts,
)

# (URL, as shown)
URLS = [
    ("https://capture.example.com", "https://capture.example.com"),  # a base URL: unchanged
    ("http://127.0.0.1:8080/prefix/", "http://127.0.0.1:8080/prefix/"),  # port and path kept
    ("https://user:pw@h.example.com/x", "https://***@h.example.com/x"),  # user and password
    ("https://justatoken@h.example.com", "https://***@h.example.com"),  # a token as user
    ("https://h.example.com/i?token=phc_x&y=1", "https://h.example.com/i?***"),  # the query
    ("https://h.example.com/#secret", "https://h.example.com/#***"),  # the fragment
    ("https://h.example.com?", "https://h.example.com?***"),  # an empty query still shows ?
    ("http://a@b:c@[::1]:9/p?q#f", "http://***@[::1]:9/p?***#***"),  # up to the LAST @
    ("http://u:p/ss@host/p", "http://***@host/p"),  # a / in the password is hidden too
    ("not a url", "not a url"),  # no scheme: left alone
    ("", ""),  # nothing
]


@pytest.mark.parametrize(("url", "shown"), URLS)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert url_has_secret_parts(url) == (url != shown)


# (a text quoting URLs, as it may be stored in status_reason)
TEXTS = [
    (  # repr() quotes: the URL ends at the quote, the message goes on
        "internal error: ValueError(\"URL 'http://u:pw@h/?t=1' is bad\")",
        "internal error: ValueError(\"URL 'http://***@h/?***' is bad\")",
    ),
    (  # two URLs in one text
        "from https://a:b@x.example.com to http://y.example.com/p?k=v",
        "from https://***@x.example.com to http://y.example.com/p?***",
    ),
    ("connect failed: [Errno 111] Connection refused", None),  # no URL: unchanged
]


@pytest.mark.parametrize(("text", "shown"), TEXTS)
def test_redact_urls_in_a_text(text: str, shown: str | None) -> None:
    assert redact_urls(text) == (shown if shown is not None else text)


_USERINFO = st.text("abcXYZ019-._~!$&'()*+,;=:%", min_size=1, max_size=20)
_HOST = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z]{2,5}){0,2}", fullmatch=True)
_PATH = st.from_regex(r"(/[a-z0-9]{0,6}){0,3}", fullmatch=True)


@given(
    user=_USERINFO,
    password=_USERINFO,
    host=_HOST,
    path=_PATH,
    query=st.text(max_size=20).filter(lambda q: "#" not in q),
    fragment=st.text(max_size=20),
)
def test_no_credential_part_survives_redaction(
    user: str, password: str, host: str, path: str, query: str, fragment: str
) -> None:
    url = f"https://SECRETU{user}:SECRETP{password}@{host}{path}?SECRETQ{query}#SECRETF{fragment}"
    shown = redact_url(url)
    assert "SECRET" not in shown
    assert shown == f"https://***@{host}{path}?***#***"


_TEXT_SAFE = st.text("abcXYZ019-._~!$&()*+,;=:%/@", max_size=20)  # no space, quote, ? or #


@given(secret=_TEXT_SAFE, query=_TEXT_SAFE | st.just("?"), host=_HOST, path=_PATH)
def test_no_credential_part_survives_in_a_text(
    secret: str, query: str, host: str, path: str
) -> None:
    url = f"http://SECRET{secret}@{host}{path}?SECRET{query}#SECRET{query}"
    assert redact_urls(f"failed: {url!r}, giving up") == (
        f"failed: 'http://***@{host}{path}?***#***', giving up"
    )


@given(st.text(max_size=80))
def test_redaction_never_raises_and_is_idempotent(text: str) -> None:
    once = redact_url(text)
    assert redact_url(once) == once
    assert redact_urls(redact_urls(text)) == redact_urls(text)


def test_url_errors_of_the_transport_mask_credentials() -> None:
    with pytest.raises(ValueError, match=r"'ftp://\*\*\*@h'") as info:
        parse_origin("ftp://u:hunter2@h")
    assert "hunter2" not in str(info.value)


# (text given as an environment variable name, looks like a secret?)
SHAPES = [
    ("POSTHOG_TOKEN", False),  # the documented kind of name
    ("CIO_API_KEY_2", False),  # a digit in a word of its own
    ("posthog_token", False),  # lower case: refused, but not called a secret
    ("phc_realtokenvalue123", True),  # PostHog project key prefix
    ("phx_personalapikey", True),  # PostHog personal key prefix
    ("sk_live_abc", True),  # Stripe-style secret key prefix
    ("ghp_abcdefghijklmnop", True),  # GitHub token prefix
    ("AKIAIOSFODNN7EXAMPLE", True),  # AWS access key id: upper case, valid name shape
    ("AKIA_PROD_TOKEN", False),  # starts like an AWS key but is a name of words
    ("eyJhbGciOiJIUzI1NiJ9", True),  # a JWT
    ("Bearer abc", True),  # an HTTP auth value
    ("a2V5OnZhbHVl==", True),  # base64 padding: no name has `=`
    ("token with spaces", True),  # white space: no name has it
    ("R2D2C3POTOKENVALUE99", True),  # 16+ letters and digits mixed, no `_`
    ("VERYLONGSERVICENAMETOKEN", False),  # long but letters only: a (bad) name, not a token
]


@pytest.mark.parametrize(("text", "secret"), SHAPES)
def test_looks_like_secret(text: str, secret: bool) -> None:
    assert looks_like_secret(text) is secret
    message = bad_variable_name(text)
    if secret:
        assert message is not None and "looks like a secret value" in message
    assert text not in (message or "")  # never quoted, secret or not


@pytest.mark.parametrize("value", [None, 12, ["POSTHOG_TOKEN"], ""])
def test_a_credential_name_must_be_a_non_empty_string(value: object) -> None:
    message = bad_variable_name(value)
    assert message is not None and "NAME of an environment variable" in message
