"""A request for an alias goes to the engine under the engine's own model name."""

from __future__ import annotations

from typing import Any

import msgspec


def with_model(body: bytes, model: str) -> bytes:
    """`body` with its top-level `model` replaced. Parsed and re-encoded only for aliased
    requests (the body was validated as a JSON object already); other fields are kept as sent."""
    document: Any = msgspec.json.decode(body)
    document["model"] = model
    return msgspec.json.encode(document)
