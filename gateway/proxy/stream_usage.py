"""Usage for every stream: ask the engine for it, and hide it from clients that did not ask.

Token limits and the usage ledger settle on the engine's real counts, which a stream carries only
in a final usage event, and only with `stream_options.include_usage`. So a streamed chat or text
completion is always sent with it; if the client did not ask for it, that event (`"choices": []`
with a `usage` object, just before `data: [DONE]`) is removed from what the client receives, and
the client sees exactly the stream it asked for.

The body is changed only where needed: without `stream_options` the field is spliced in before
the closing brace (no re-encoding of the client's JSON); with `stream_options` but no
`include_usage: true`, the body is decoded and encoded again (rare).
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.proxy.bodies import with_member

_INCLUDE_USAGE = b'"stream_options":{"include_usage":true}'
_EVENT_END = b"\n\n"


def with_usage_requested(body: bytes, stream_options_given: bool) -> bytes:
    """`body` (a JSON object with `stream: true`) asking the engine for the usage event."""
    if not stream_options_given:
        return with_member(body, _INCLUDE_USAGE)
    document: dict[str, Any] = msgspec.json.decode(body)
    options = document.get("stream_options")
    document["stream_options"] = {
        **(options if isinstance(options, dict) else {}),
        "include_usage": True,
    }
    return msgspec.json.encode(document)


def _is_usage_event(event: bytes) -> bool:
    return b'"usage"' in event and b'"choices":[]' in event and event.lstrip().startswith(b"data:")


class UsageEventFilter:
    """Removes usage-only events from a relayed SSE stream; everything else passes unchanged.

    Chunks are cut on event boundaries (`\\n\\n`, as vLLM writes them): a partial event is held
    until its end arrives, so an event split across reads is still recognised. Events in a chunk
    without the word "usage" are passed on without being split.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._held + chunk if self._held else chunk
        end = data.rfind(_EVENT_END)
        if end < 0:
            self._held = data
            return b""
        end += len(_EVENT_END)
        complete, self._held = data[:end], data[end:]
        if b'"usage"' not in complete:
            return complete
        events = complete.split(_EVENT_END)
        kept = [e for e in events[:-1] if not _is_usage_event(e)]
        return b"".join(e + _EVENT_END for e in kept)

    def flush(self) -> bytes:
        """What is left when the stream ends (an unterminated last event, passed as is)."""
        held, self._held = self._held, b""
        return b"" if _is_usage_event(held) else held
