"""Streams always ask the engine for usage; a client that did not ask never sees that event."""

from __future__ import annotations

import json

import pytest

from gateway.proxy.stream_usage import UsageEventFilter, with_usage_requested

CONTENT = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"usage"}}]}\n\n'
USAGE = b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n'
DONE = b"data: [DONE]\n\n"


def relay(chunks: list[bytes]) -> bytes:
    usage_filter = UsageEventFilter()
    return b"".join(usage_filter.feed(chunk) for chunk in chunks) + usage_filter.flush()


@pytest.mark.parametrize(
    "cut",
    [
        [CONTENT, USAGE, DONE],
        [CONTENT + USAGE + DONE],
        [CONTENT + USAGE[:20], USAGE[20:] + DONE],
        [CONTENT[:7], CONTENT[7:] + USAGE[:-1], USAGE[-1:], DONE],
        [bytes([b]) for b in CONTENT + USAGE + DONE],
    ],
)
def test_the_usage_event_is_removed_however_the_stream_is_cut(cut: list[bytes]) -> None:
    assert relay(cut) == CONTENT + DONE


def test_a_stream_cut_off_mid_event_passes_what_it_has() -> None:
    assert relay([CONTENT, b'data: {"id":"c","cho']) == CONTENT + b'data: {"id":"c","cho'


def test_the_engine_is_asked_for_usage_without_rewriting_the_clients_json() -> None:
    body = b'{"model": "m", "messages": [], "stream": true}\n'
    asked = with_usage_requested(body, stream_options_given=False)
    assert asked.startswith(body[:-2])
    assert json.loads(asked)["stream_options"] == {"include_usage": True}


def test_other_stream_options_are_kept() -> None:
    body = json.dumps({"model": "m", "stream": True, "stream_options": {"x": 1}}).encode()
    assert json.loads(with_usage_requested(body, stream_options_given=True))["stream_options"] == {
        "x": 1,
        "include_usage": True,
    }
