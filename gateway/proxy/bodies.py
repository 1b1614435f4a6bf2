"""Request bodies: read within the size limit, and check before the engine sees them.

The gateway forwards the client's bytes untouched (vLLM extensions such as `top_k`, `min_p` or
guided decoding pass through), so it never builds a model of the whole body. It decodes only the
fields a route requires, as raw JSON slices (msgspec skips everything else without building
Python objects), and checks their JSON type by the slice's first byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from litestar.types import Receive

from gateway.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType

Kind = Literal["string", "array", "string_or_array", "integer"]

# A JSON value's type shows in its first byte; fields are only ever looked at that far.
_FIRST_BYTES: dict[Kind, frozenset[int]] = {
    "string": frozenset(b'"'),
    "array": frozenset(b"["),
    "string_or_array": frozenset(b'"['),
    "integer": frozenset(b"-0123456789"),
}
_KIND_WORDS: dict[Kind, str] = {
    "string": "a string",
    "array": "an array",
    "string_or_array": "a string or an array",
    "integer": "an integer",
}
_JSON_TYPE_WORDS = {
    ord('"'): "a string",
    ord("["): "an array",
    ord("{"): "an object",
    ord("t"): "a boolean",
    ord("f"): "a boolean",
    ord("n"): "null",
}
_NULL = ord("n")


# Optional fields read for token limits and stream usage (never checked: the engine does that).
_FACT_FIELDS = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "n",
    "stream",
    "stream_options",
)
# Counts an engine would try to honour at any size (a million choices, a million logprobs per
# token): refused here, before they tie up the engine. The ceilings are OpenAI's and vLLM's
# defaults (n: 128; vLLM's max_logprobs: 20).
_BOUNDED: dict[str, tuple[int, int]] = {
    "n": (1, 128),
    "best_of": (1, 128),
    "logprobs": (0, 20),  # completions: an integer (chat's is a boolean, not checked)
    "top_logprobs": (0, 20),
}


@dataclass(frozen=True, slots=True)
class BodyFacts:
    """What the gateway reads from a body besides checking it."""

    model: str
    max_tokens: int | None = None  # max_completion_tokens, max_tokens or max_output_tokens
    n: int = 1
    stream: bool = False
    stream_options_given: bool = False
    include_usage: bool = False  # stream_options.include_usage is true


def _int(raw: msgspec.Raw) -> int | None:
    if not _present(raw) or memoryview(raw)[0] not in _FIRST_BYTES["integer"]:
        return None
    try:
        value = msgspec.json.decode(raw, type=int)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return value if value >= 0 else None


def _include_usage(raw: msgspec.Raw) -> bool:
    if not _present(raw) or b'"include_usage"' not in bytes(raw):
        return False
    try:
        options = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return False
    return isinstance(options, dict) and options.get("include_usage") is True


def _facts(model: str, fields: Any) -> BodyFacts:
    max_tokens = _int(fields.max_completion_tokens)
    if max_tokens is None:
        max_tokens = _int(fields.max_tokens)
    if max_tokens is None:
        max_tokens = _int(fields.max_output_tokens)
    n = _int(fields.n)
    stream = bytes(fields.stream) == b"true"
    options: msgspec.Raw = fields.stream_options
    return BodyFacts(
        model=model,
        max_tokens=max_tokens,
        n=n if n else 1,
        stream=stream,
        stream_options_given=len(options) > 0,
        include_usage=stream and _include_usage(options),
    )


class ClientDisconnected(Exception):
    """The client went away before the gateway answered (logged as status 499)."""


class BodySpec:
    """What a route's JSON body must contain; everything else passes through unchecked."""

    def __init__(
        self,
        required: tuple[tuple[str, Kind], ...] = (),
        one_of: tuple[tuple[tuple[str, Kind], ...], ...] = (),
    ) -> None:
        """`one_of`: groups of which at least one field must be present (/tokenize: prompt or
        messages)."""
        self.required = required
        self.one_of = one_of
        fields = [("model", "string"), *required, *(f for group in one_of for f in group)]
        names = list(dict.fromkeys([*(name for name, _ in fields), *_FACT_FIELDS, *_BOUNDED]))
        struct = msgspec.defstruct(
            "Body", [(name, msgspec.Raw, msgspec.Raw()) for name in names], kw_only=True
        )
        self._decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(struct)

    def check(self, body: bytes) -> str:
        """Check `body` and return its model name, or raise InvalidRequest (400)."""
        return self.inspect(body).model

    def inspect(self, body: bytes) -> BodyFacts:
        """Check `body` and return its model name and the facts limits need, or raise
        InvalidRequest (400)."""
        if not body:
            raise InvalidRequest(
                "The request body is empty; send a JSON object.", code="invalid_json"
            )
        try:
            fields = self._decoder.decode(body)
        except msgspec.ValidationError:
            # The only shape the raw-field struct can reject is a non-object top level.
            raise InvalidRequest(
                "The request body must be a JSON object.", code="invalid_json"
            ) from None
        except msgspec.DecodeError as exc:
            raise InvalidRequest(
                f"The request body is not valid JSON: {exc}", code="invalid_json"
            ) from None
        model = _model(fields.model)
        for name, kind in self.required:
            _check_field(name, kind, getattr(fields, name))
        for group in self.one_of:
            present = [(n, k) for n, k in group if _present(getattr(fields, n))]
            if not present:
                names = " or ".join(f"'{n}'" for n, _ in group)
                raise InvalidRequest(
                    f"Missing required parameter: one of {names}.",
                    param=group[0][0],
                    code="missing_required_parameter",
                )
            for name, kind in present:
                _check_field(name, kind, getattr(fields, name))
        for name, bounds in _BOUNDED.items():
            _check_bounds(name, bounds, getattr(fields, name))
        return _facts(model, fields)


def _check_bounds(name: str, bounds: tuple[int, int], raw: msgspec.Raw) -> None:
    """An integer field outside `bounds` is a 400 (other JSON types are the engine's to judge)."""
    if not _present(raw) or memoryview(raw)[0] not in _FIRST_BYTES["integer"]:
        return
    text = bytes(raw)
    if any(c in text for c in b".eE"):
        return  # a float: the engine says what it thinks of it
    low, high = bounds
    try:
        value = msgspec.json.decode(text, type=int)
    except (msgspec.DecodeError, msgspec.ValidationError):
        value = high + 1  # beyond 64 bits
    if not low <= value <= high:
        raise InvalidRequest(
            f"Invalid value for '{name}': it must be an integer from {low} to {high}.",
            param=name,
            code="invalid_value",
        )


def _present(raw: msgspec.Raw) -> bool:
    return len(raw) > 0 and memoryview(raw)[0] != _NULL  # absent, or JSON null


def _model(raw: msgspec.Raw) -> str:
    if not _present(raw):
        raise InvalidRequest(
            "You must provide a model parameter.", param="model", code="missing_required_parameter"
        )
    _check_field("model", "string", raw)
    model = msgspec.json.decode(raw)
    if not isinstance(model, str) or not model.strip():
        raise InvalidRequest(
            "'model' must be a non-empty string.", param="model", code="invalid_value"
        )
    return model


def _check_field(name: str, kind: Kind, raw: msgspec.Raw) -> None:
    if not _present(raw):
        raise InvalidRequest(
            f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter"
        )
    first = memoryview(raw)[0]
    ok = first in _FIRST_BYTES[kind]
    if ok and kind == "integer":
        ok = not any(c in b".eE" for c in bytes(raw))
    if not ok:
        got = _JSON_TYPE_WORDS.get(first, "a number")
        raise InvalidRequest(
            f"Invalid type for '{name}': expected {_KIND_WORDS[kind]}, but got {got} instead.",
            param=name,
            code="invalid_type",
        )


async def read_body(receive: Receive, headers: Iterable[tuple[bytes, bytes]], limit: int) -> bytes:
    """The whole request body, refusing more than `limit` bytes (announced or actually sent)."""
    for name, value in headers:
        if name == b"content-length":
            try:
                announced = int(value)
            except ValueError:
                raise InvalidRequest("Invalid Content-Length header.") from None
            if announced > limit:
                raise _too_large(limit)
            break
    content_type = b""
    for name, value in headers:
        if name == b"content-type":
            content_type = value.lower()
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk: bytes = message.get("body", b"")  # type: ignore[assignment]
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    if chunks and content_type and b"json" not in content_type:
        # A form or text body is a client mistake (curl -d without -H): say so, not "bad JSON".
        raise UnsupportedMediaType(
            "The request body must be JSON: send it with 'Content-Type: application/json'.",
            param=None,
        )
    if len(chunks) == 1:
        return chunks[0]
    return b"".join(chunks)


def with_member(body: bytes, member: bytes) -> bytes:
    """`body`, a JSON object that lacks this member, with `member` (`"name":value`) added
    before its closing brace: what the client sent is neither parsed nor re-encoded."""
    end = body.rindex(b"}")
    return body[:end] + b"," + member + body[end:]


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The request body is larger than this gateway accepts ({limit} bytes).", param=None
    )
