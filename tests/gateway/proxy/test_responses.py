"""Facts read from the engine's answers: token counts in every API's shape, error bodies."""

from __future__ import annotations

import json

from gateway.proxy.responses import engine_error, usage_from_body, usage_from_stream_tail


def test_usage_of_a_chat_answer_with_cached_prompt_tokens() -> None:
    body = {
        "choices": [],
        "usage": {
            "prompt_tokens": 40,
            "completion_tokens": 7,
            "total_tokens": 47,
            "prompt_tokens_details": {"cached_tokens": 32},
        },
    }
    usage = usage_from_body(json.dumps(body).encode())
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.cached_tokens) == (40, 7, 32)
    assert usage.total_tokens == 47


def test_no_usage_when_the_engine_reports_none() -> None:
    assert usage_from_body(b'{"choices": [], "usage": null}') is None
    assert usage_from_body(b'{"data": []}') is None
    assert usage_from_body(b'not json but mentions "usage"') is None


def test_stream_usage_from_the_last_usage_event_even_split_across_reads() -> None:
    event = b'data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}\n\n'
    chunks = [b'data: {"choices":[{"delta":{"content":"x"}}]}\n\n', event[:20], event[20:]]
    usage = usage_from_stream_tail([*chunks, b"data: [DONE]\n\n"])
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (5, 3)


def test_stream_usage_of_the_responses_and_messages_apis() -> None:
    responses = (
        b"event: response.completed\n"
        b'data: {"type":"response.completed","response":{"usage":'
        b'{"input_tokens":9,"output_tokens":4,"input_tokens_details":{"cached_tokens":0}}}}\n\n'
    )
    usage = usage_from_stream_tail([responses])
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (9, 4)
    messages = (
        b"event: message_delta\n"
        b'data: {"type":"message_delta","usage":{"input_tokens":6,"output_tokens":2}}\n\n'
    )
    usage = usage_from_stream_tail([messages])
    assert usage is not None and (usage.prompt_tokens, usage.completion_tokens) == (6, 2)


def test_engine_errors_in_openai_shape_are_kept_and_others_are_wrapped() -> None:
    vllm = b'{"error":{"message":"too long","type":"BadRequestError","param":null,"code":400}}'
    assert engine_error(400, vllm) is None
    wrapped = json.loads(engine_error(422, b'{"detail":[{"loc":["body"],"msg":"bad"}]}') or b"")
    assert wrapped["error"]["type"] == "invalid_request_error"
    assert "bad" in wrapped["error"]["message"]
    text = json.loads(engine_error(500, b"Internal Server Error") or b"")
    assert text["error"] == {
        "message": "Internal Server Error",
        "type": "upstream_error",
        "param": None,
        "code": 500,
    }
    empty = json.loads(engine_error(502, b"") or b"")
    assert empty["error"]["message"] == "The engine answered with status 502."
