"""Request body decoding shared by the validators: gzip, base64, JSON, Basic auth."""

from __future__ import annotations

import base64
import binascii
import zlib

import orjson

from loadgen.mock.model import Rejection

GZIP_MAGIC = b"\x1f\x8b"


def gunzip(data: bytes, limit: int, too_large: int = 413) -> bytes:
    """Inflate a gzip body, refusing more than `limit` bytes out (no zip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise Rejection(400, f"invalid gzip body: {exc}", "invalid_gzip") from None
    if len(out) > limit:
        raise Rejection(too_large, f"decompressed body exceeds {limit} bytes", "too_large")
    if not inflater.eof:
        raise Rejection(400, "truncated gzip body", "invalid_gzip")
    return out


def b64decode(data: bytes) -> bytes:
    try:
        return base64.b64decode(data.strip(), validate=False)
    except (binascii.Error, ValueError):
        raise Rejection(400, "invalid base64 body", "invalid_payload") from None


def decoded(body: bytes, encoding: str | None, limit: int, too_large: int = 413) -> bytes:
    """The body with its Content-Encoding undone (gzip only; identity passes through)."""
    if not encoding or encoding == "identity":
        return body
    if encoding in ("gzip", "x-gzip"):
        return gunzip(body, limit, too_large)
    raise Rejection(400, f"unsupported Content-Encoding {encoding!r}; use gzip", "bad_encoding")


def parse_json(data: bytes) -> object:
    if not data:
        raise Rejection(400, "empty body; expected JSON", "invalid_payload")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise Rejection(400, f"invalid JSON: {exc}", "invalid_payload") from None


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """(user, password) from an `Authorization: Basic ...` header, or None if malformed."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


def utf8_len(value: str) -> int:
    return len(value.encode("utf-8")) if not value.isascii() else len(value)


def serialized_len(value: object) -> int:
    """Bytes of `value` as compact JSON (how the services measure attribute sizes)."""
    if isinstance(value, str):
        return utf8_len(value) + 2
    try:
        return len(orjson.dumps(value))
    except TypeError:
        return 0
