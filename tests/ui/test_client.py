"""The UI's gateway client against the real gateway and a fake engine: every route it calls,
errors, streaming, stopping."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.fake_engine.tokens import answer_text, count_tokens, render_chat
from shared.schemas.keys import KeyCreated
from shared.secret_files import UI_TOKEN
from shared.settings import Settings
from tests.conftest import free_port
from tests.ui.stack import (
    ADMIN_TOKEN,
    MAX_MODEL_LEN,
    MODEL,
    SLOW,
    RecordingTransport,
    Stack,
)
from ui.client import ChatRequest, GatewayClient
from ui.errors import GatewayError


def chat(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)  # type: ignore[arg-type]


async def test_the_ui_token_goes_with_every_call_when_configured(
    stack: Stack, alice: KeyCreated, data_dir: Path
) -> None:
    sent = RecordingTransport()
    secret = UI_TOKEN.resolve(Settings(data_dir=data_dir))  # the gateway's, `tollgate up`'s
    assert secret is not None
    token = secret.get_secret_value()
    async with GatewayClient(stack.gateway_url, timeout_s=10, ui_token=token, transport=sent) as ui:
        await ui.complete(alice.key, chat("hi"))
        _ = [event async for event in ui.stream_chat(alice.key, chat("hi"))]
        await ui.me(alice.key)
    assert [r.headers["x-tollgate-ui-token"] for r in sent.sent] == [token] * 3
    assert [r.headers.get("x-tollgate-tier") for r in sent.sent] == ["interactive"] * 2 + [None]
    # The gateway trusts it: both chats reach the engine as interactive (vLLM priority -10) on
    # a standard key; and it keeps the token from the engine.
    seen = stack.engine_saw()
    assert [s["body"]["priority"] for s in seen] == [-10, -10]
    assert all("x-tollgate-ui-token" not in s["headers"] for s in seen)


async def test_no_ui_token_header_without_a_token(
    client: GatewayClient, sent: RecordingTransport, alice: KeyCreated
) -> None:
    await client.complete(alice.key, chat("hi"))
    assert "x-tollgate-ui-token" not in sent.last().headers


async def test_me_describes_the_signed_in_key(client: GatewayClient, alice: KeyCreated) -> None:
    me = await client.me(alice.key)
    assert (me.id, me.name, me.team, me.tier) == (alice.id, "alice", "data", "standard")
    assert me.prefix == alice.prefix and alice.key.startswith(me.prefix)
    assert me.limits.rpm == 600 and me.limits.monthly_tokens is None
    assert me.remaining is not None and me.remaining.concurrency is not None
    assert me.remaining.concurrency.remaining == 4


async def test_models_list_carries_the_context_length(
    client: GatewayClient, alice: KeyCreated
) -> None:
    [card] = await client.models(alice.key)
    assert (card.id, card.root, card.max_model_len) == (MODEL, MODEL, MAX_MODEL_LEN)


async def test_engine_state_reads_live_numbers(
    client: GatewayClient, stack: Stack, alice: KeyCreated
) -> None:
    stack.control(**SLOW)
    stream = client.stream_chat(alice.key, chat("a long story"))
    await anext(stream)  # one answer generating: 1 of the engine's 8 sequences
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # the gateway shares one sample for a second
        state = await client.engine(alice.key)
        [upstream] = state.upstreams
        if upstream.requests_running == 1 or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.2)
    await stream.aclose()
    assert upstream.healthy and upstream.models == [MODEL]
    assert upstream.requests_running == 1 and upstream.kv_cache_usage == 0.125
    assert state.sampled_at is not None


async def test_usage_sends_the_period_and_bucket(
    client: GatewayClient, sent: RecordingTransport, alice: KeyCreated
) -> None:
    for _ in range(3):
        await client.complete(alice.key, chat("hi"))
    deadline = asyncio.get_running_loop().time() + 10
    while (report := await client.usage(alice.key, bucket="day")).totals.requests < 3:
        assert asyncio.get_running_loop().time() < deadline, "the ledger never counted them"
        await asyncio.sleep(0.1)
    [today] = report.buckets  # all three today
    assert report.bucket == "day" and today.requests == 3
    assert report.totals.requests == sum(b.requests for b in report.buckets)
    assert report.totals.completion_tokens == 3 * 16  # the engine's default answer length
    assert sent.last("/tollgate/usage").query["bucket"] == "day"


async def test_usage_not_enabled_is_a_404(degraded: Stack) -> None:
    key = degraded.create_key(name="alice").key
    async with GatewayClient(degraded.gateway_url, timeout_s=10) as client:
        with pytest.raises(GatewayError) as caught:
            await client.usage(key)
    assert caught.value.status == 404


async def test_tokenize_returns_ids_and_token_strings(
    client: GatewayClient, alice: KeyCreated
) -> None:
    tokens = await client.tokenize(alice.key, MODEL, text="Hello big world")
    assert tokens.count == 3 and len(tokens.tokens) == 3
    assert tokens.token_strs == ["Hello", " big", " world"]
    assert tokens.max_model_len == MAX_MODEL_LEN
    assert await client.detokenize(alice.key, MODEL, tokens.tokens) == "Hello big world"


async def test_rendered_prompt_falls_back_to_tokenize_when_render_is_disabled(
    client: GatewayClient, stack: Stack, alice: KeyCreated
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    # As vLLM without --enable-scale-out: the render route answers 403.
    stack.control(fault="status-403", fault_count=1)
    prompt = await client.render_prompt(alice.key, MODEL, messages)
    assert prompt.source == "tokenize"
    assert prompt.text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    rendered = await client.render_prompt(alice.key, MODEL, messages)
    assert rendered.source == "render" and rendered.text == prompt.text
    assert rendered.token_ids == prompt.token_ids


async def test_streamed_chat_arrives_piece_by_piece_with_usage(
    client: GatewayClient, sent: RecordingTransport, stack: Stack, alice: KeyCreated
) -> None:
    request = chat("hi", temperature=0.5, seed=3, max_tokens=4)
    events = [e async for e in client.stream_chat(alice.key, request)]
    texts = [e.text for e in events if e.text]
    assert len(texts) == 4 and "".join(texts) == answer_text(4)
    assert any(e.finish_reason == "length" for e in events)
    usage = events[-1].usage
    assert usage is not None and usage.completion_tokens == 4
    assert usage.prompt_tokens == count_tokens(render_chat(request.messages))
    body = sent.last().body
    assert sent.last().headers["x-tollgate-tier"] == "interactive"
    assert body["stream"] is True and body["temperature"] == 0.5
    assert body["seed"] == 3 and body["stream_options"] == {"include_usage": True}
    [engine_saw] = stack.engine_saw()
    assert (engine_saw["body"]["temperature"], engine_saw["body"]["seed"]) == (0.5, 3)


async def test_sampling_fields_left_unset_are_not_sent(
    client: GatewayClient, sent: RecordingTransport, alice: KeyCreated
) -> None:
    await client.complete(alice.key, chat("hi", stop=["\n\n"]))
    body = sent.last().body
    assert body["stop"] == ["\n\n"]
    assert not {"temperature", "top_p", "max_tokens", "seed", "logprobs"} & body.keys()


async def test_completion_with_logprobs_gives_top_alternatives(
    client: GatewayClient, alice: KeyCreated
) -> None:
    answer = await client.complete(alice.key, chat("hi", logprobs=True, top_logprobs=5))
    assert answer.text == answer_text(16)
    assert len(answer.logprobs) == 16
    first = answer.logprobs[0]
    assert first.token == "The" and math.exp(first.logprob) == pytest.approx(0.9)
    assert [alt.token for alt in first.top_logprobs] == [
        "The",
        " quick",
        " brown",
        " fox",
        " jumps",
    ]


async def test_closing_the_stream_midway_cancels_it_upstream(
    client: GatewayClient, stack: Stack, alice: KeyCreated
) -> None:
    stack.control(**SLOW)
    stream = client.stream_chat(alice.key, chat("go"))
    received = [await anext(stream) for _ in range(3)]
    assert "".join(e.text for e in received) == answer_text(2)  # the role chunk, then tokens
    await stream.aclose()
    await _until(lambda: stack.engine_stats()["requests_aborted"] == 1)
    assert stack.engine_stats()["requests_completed"] == 0


async def test_cancelling_the_consuming_task_cancels_the_stream_upstream(
    client: GatewayClient, stack: Stack, alice: KeyCreated
) -> None:
    stack.control(**SLOW)
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream_chat(alice.key, chat("go")):
            if event.text:
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 10)
    task.cancel()  # what Gradio does when a person presses Stop
    with pytest.raises(asyncio.CancelledError):
        await task
    await _until(lambda: stack.engine_stats()["requests_aborted"] == 1)


async def test_error_after_the_stream_began_is_raised(
    client: GatewayClient, stack: Stack, alice: KeyCreated
) -> None:
    stack.control(fault="die-mid-stream:2", fault_count=1)  # the engine dies after 2 tokens
    received: list[str] = []
    with pytest.raises(GatewayError) as caught:
        async for event in client.stream_chat(alice.key, chat("x")):
            received.append(event.text)
    assert "".join(received) == answer_text(2)
    assert caught.value.status == 502 and "stream broke off" in caught.value.message


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("expired_key", "has expired"),
        ("revoked_key", "has been revoked"),
        ("tg-wrong", "not recognised"),
        ("tg-" + "x" * 43, "not recognised"),
        ("", "Enter your API key"),
    ],
)
async def test_bad_keys_read_as_plain_words(
    client: GatewayClient, request: pytest.FixtureRequest, key: str, words: str
) -> None:
    if key.endswith("_key"):  # a real key the gateway made, then let expire or revoked
        key = request.getfixturevalue(key)
    with pytest.raises(GatewayError) as caught:
        await client.me(key)
    assert caught.value.status == 401
    assert words in caught.value.plain()


async def test_rate_limited_chat_says_how_long_to_wait(client: GatewayClient, stack: Stack) -> None:
    limited = stack.create_key(name="bob", rpm=1)
    await client.models(limited.key)  # the one request of this minute
    with pytest.raises(GatewayError) as caught:
        async for _ in client.stream_chat(limited.key, chat("hi")):
            pass
    wait = caught.value.retry_after_s
    assert caught.value.status == 429 and wait is not None and 55 <= wait <= 60
    assert f"Try again in {math.ceil(wait)} seconds" in caught.value.plain()
    assert caught.value.request_id
    assert stack.engine_saw() == []  # refused at the gateway


@pytest.mark.parametrize(
    ("fault", "status", "words"),
    [
        ("close-before-headers", 502, "engine answered with an error"),
        ("status-503", 503, "not available right now"),
        ("hang", 504, "took too long"),
    ],
)
async def test_engine_faults_read_as_plain_words(
    client: GatewayClient, stack: Stack, alice: KeyCreated, fault: str, status: int, words: str
) -> None:
    stack.control(fault=fault, fault_count=1)
    with pytest.raises(GatewayError) as caught:
        async for _ in client.stream_chat(alice.key, chat("hi")):
            pass
    assert caught.value.status == status
    assert words in caught.value.plain()


async def test_a_prompt_too_long_for_the_context_reads_as_plain_words(
    client: GatewayClient, alice: KeyCreated
) -> None:
    with pytest.raises(GatewayError) as caught:
        async for _ in client.stream_chat(alice.key, chat("hi", max_tokens=MAX_MODEL_LEN + 1)):
            pass
    assert caught.value.status == 400
    assert "too long for the model's context window" in caught.value.plain()


async def test_an_engine_that_is_down_reads_as_plain_words(degraded: Stack) -> None:
    key = degraded.create_key(name="alice").key
    async with GatewayClient(degraded.gateway_url, timeout_s=10) as client:
        with pytest.raises(GatewayError) as caught:
            async for _ in client.stream_chat(key, chat("hi")):
                pass
    assert caught.value.status == 503
    assert "not available right now" in caught.value.plain()


async def test_unreachable_gateway_is_status_zero_without_the_key(alice: KeyCreated) -> None:
    async with GatewayClient(f"http://127.0.0.1:{free_port()}", timeout_s=5) as dead:
        with pytest.raises(GatewayError) as caught:
            await dead.me(alice.key)
    assert caught.value.status == 0
    assert "cannot be reached" in caught.value.plain()
    assert alice.key not in caught.value.plain() and alice.key not in str(caught.value)


async def test_admin_creates_lists_and_revokes_keys(client: GatewayClient) -> None:
    created = await client.create_key(ADMIN_TOKEN, {"name": "ci", "rpm": 10, "team": None})
    assert created.key.startswith("tg-") and created.limits.rpm == 10
    [listed] = [k for k in await client.list_keys(ADMIN_TOKEN) if k.id == created.id]
    assert listed.name == "ci" and not listed.revoked
    assert "key" not in listed.model_dump()
    revoked = await client.revoke_key(ADMIN_TOKEN, created.id)
    assert revoked.revoked and revoked.revoked_at is not None


async def test_admin_usage_counts_each_keys_requests(
    client: GatewayClient, alice: KeyCreated
) -> None:
    for _ in range(2):
        await client.complete(alice.key, chat("hi"))
    since = datetime.now(UTC) - timedelta(days=30)
    deadline = asyncio.get_running_loop().time() + 10
    while (row := (await client.usage_by_key(ADMIN_TOKEN, since=since)).get(alice.id)) is None or (
        row.requests < 2
    ):
        assert asyncio.get_running_loop().time() < deadline, "the ledger never counted them"
        await asyncio.sleep(0.1)
    assert row.requests == 2 and row.completion_tokens == 2 * 16
    assert row.total_tokens == row.prompt_tokens + row.completion_tokens


async def test_admin_routes_refuse_a_wrong_token(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as caught:
        await client.list_keys("not-the-token")
    assert caught.value.status == 401


async def _until(condition: object, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)
