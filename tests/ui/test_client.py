"""The UI's gateway client against the fake gateway: every pinned route, errors, streaming."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import free_port
from tests.ui.conftest import Served
from tests.ui.fake_gateway import (
    ADMIN_TOKEN,
    EXPIRED_KEY,
    GOOD_KEY,
    LIMITED_KEY,
    MAX_MODEL_LEN,
    MODEL,
    REVOKED_KEY,
)
from ui.client import ChatRequest, GatewayClient
from ui.errors import GatewayError


def chat(text: str, **kwargs: object) -> ChatRequest:
    return ChatRequest(model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)  # type: ignore[arg-type]


async def test_the_ui_token_goes_with_every_call_when_configured(fake_gateway: Served) -> None:
    async with GatewayClient(fake_gateway.url, timeout_s=10, ui_token="tgui-shared") as ui:
        await ui.complete(GOOD_KEY, chat("hi"))
        _ = [event async for event in ui.stream_chat(GOOD_KEY, chat("hi"))]
        await ui.me(GOOD_KEY)
    sent = fake_gateway.state.requests
    assert [r["headers"]["x-tollgate-ui-token"] for r in sent] == ["tgui-shared"] * 3
    assert [r["headers"].get("x-tollgate-tier") for r in sent] == ["interactive"] * 2 + [None]


async def test_no_ui_token_header_without_a_token(
    client: GatewayClient, fake_gateway: Served
) -> None:
    await client.complete(GOOD_KEY, chat("hi"))
    assert "x-tollgate-ui-token" not in fake_gateway.state.requests[-1]["headers"]


async def test_me_describes_the_signed_in_key(client: GatewayClient) -> None:
    me = await client.me(GOOD_KEY)
    assert (me.id, me.name, me.team, me.tier) == ("key_0001", "alice", "data", "standard")
    assert me.limits.rpm == 60 and me.limits.monthly_tokens is None


async def test_models_list_carries_the_context_length(client: GatewayClient) -> None:
    [card] = await client.models(GOOD_KEY)
    assert (card.id, card.root, card.max_model_len) == (MODEL, "/models/fake", MAX_MODEL_LEN)


async def test_engine_state_reads_live_numbers(client: GatewayClient) -> None:
    state = await client.engine(GOOD_KEY)
    [upstream] = state.upstreams
    assert upstream.healthy and upstream.kv_cache_usage == 0.125
    assert state.sampled_at is not None


async def test_usage_sends_the_period_and_bucket(
    client: GatewayClient, fake_gateway: Served
) -> None:
    report = await client.usage(GOOD_KEY, bucket="day")
    assert report.bucket == "day" and len(report.buckets) == 3
    assert report.totals.requests == sum(b.requests for b in report.buckets)
    assert fake_gateway.state.requests[-1]["query"]["bucket"] == "day"


async def test_usage_not_enabled_is_a_404(client: GatewayClient, fake_gateway: Served) -> None:
    fake_gateway.state.usage_enabled = False
    with pytest.raises(GatewayError) as caught:
        await client.usage(GOOD_KEY)
    assert caught.value.status == 404


async def test_tokenize_returns_ids_and_token_strings(client: GatewayClient) -> None:
    tokens = await client.tokenize(GOOD_KEY, MODEL, text="Hello big world")
    assert tokens.count == 3 and len(tokens.tokens) == 3
    assert tokens.token_strs == ["Hello", "Ġbig", "Ġworld"]
    assert await client.detokenize(GOOD_KEY, MODEL, tokens.tokens) == "Hello big world"


async def test_rendered_prompt_falls_back_to_tokenize_when_render_is_disabled(
    client: GatewayClient, fake_gateway: Served
) -> None:
    messages = [{"role": "user", "content": "hi"}]
    prompt = await client.render_prompt(GOOD_KEY, MODEL, messages)
    assert prompt.source == "tokenize"
    assert prompt.text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    fake_gateway.state.render_enabled = True
    rendered = await client.render_prompt(GOOD_KEY, MODEL, messages)
    assert rendered.source == "render" and rendered.text == prompt.text


async def test_streamed_chat_arrives_piece_by_piece_with_usage(
    client: GatewayClient, fake_gateway: Served
) -> None:
    events = [e async for e in client.stream_chat(GOOD_KEY, chat("hi", temperature=0.5, seed=3))]
    texts = [e.text for e in events if e.text]
    assert len(texts) > 1 and "".join(texts) == "Echo: hi — **fine** thanks."
    assert any(e.finish_reason == "stop" for e in events)
    assert events[-1].usage is not None and events[-1].usage.completion_tokens == 4
    sent = fake_gateway.state.requests[-1]
    assert sent["headers"]["x-tollgate-tier"] == "interactive"
    assert sent["body"]["stream"] is True and sent["body"]["temperature"] == 0.5
    assert sent["body"]["seed"] == 3 and sent["body"]["stream_options"] == {"include_usage": True}


async def test_sampling_fields_left_unset_are_not_sent(
    client: GatewayClient, fake_gateway: Served
) -> None:
    await client.complete(GOOD_KEY, chat("hi", stop=["\n\n"]))
    body = fake_gateway.state.requests[-1]["body"]
    assert body["stop"] == ["\n\n"]
    assert not {"temperature", "top_p", "max_tokens", "seed", "logprobs"} & body.keys()


async def test_completion_with_logprobs_gives_top_alternatives(client: GatewayClient) -> None:
    answer = await client.complete(GOOD_KEY, chat("hi", logprobs=True, top_logprobs=5))
    assert answer.text.startswith("Echo: hi")
    assert len(answer.logprobs) == 4
    assert answer.logprobs[0].top_logprobs[1].token == " other"


async def test_closing_the_stream_midway_cancels_it_upstream(
    client: GatewayClient, fake_gateway: Served
) -> None:
    stream = client.stream_chat(GOOD_KEY, chat("go [slow]"))
    received = [await anext(stream) for _ in range(3)]
    assert received
    await stream.aclose()
    assert await asyncio.to_thread(fake_gateway.state.stream_cancelled.wait, 10)
    assert fake_gateway.state.streams_finished == 0


async def test_cancelling_the_consuming_task_cancels_the_stream_upstream(
    client: GatewayClient, fake_gateway: Served
) -> None:
    got_text = asyncio.Event()

    async def consume() -> None:
        async for event in client.stream_chat(GOOD_KEY, chat("go [slow]")):
            if event.text:
                got_text.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_text.wait(), 10)
    task.cancel()  # what Gradio does when a person presses Stop
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.to_thread(fake_gateway.state.stream_cancelled.wait, 10)


async def test_error_after_the_stream_began_is_raised(client: GatewayClient) -> None:
    received: list[str] = []
    with pytest.raises(GatewayError) as caught:
        async for event in client.stream_chat(GOOD_KEY, chat("x [midfail]")):
            received.append(event.text)
    assert "".join(received).startswith("Echo:")
    assert caught.value.status == 502 and "stopped answering" in caught.value.message


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (EXPIRED_KEY, "expired"),
        (REVOKED_KEY, "revoked"),
        ("tg-wrong", "not recognised"),
        ("", "Enter your API key"),
    ],
)
async def test_bad_keys_read_as_plain_words(client: GatewayClient, key: str, words: str) -> None:
    with pytest.raises(GatewayError) as caught:
        await client.me(key)
    assert caught.value.status == 401
    assert words in caught.value.plain()


async def test_rate_limited_chat_says_how_long_to_wait(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as caught:
        async for _ in client.stream_chat(LIMITED_KEY, chat("hi")):
            pass
    assert caught.value.status == 429 and caught.value.retry_after_s == 7
    assert "Try again in 7 seconds" in caught.value.plain()
    assert caught.value.request_id


@pytest.mark.parametrize(
    ("marker", "status", "words"),
    [
        ("[502]", 502, "engine answered with an error"),
        ("[503]", 503, "not available right now"),
        ("[504]", 504, "took too long"),
        ("[too long]", 400, "too long for the model's context window"),
    ],
)
async def test_engine_and_prompt_errors_read_as_plain_words(
    client: GatewayClient, marker: str, status: int, words: str
) -> None:
    with pytest.raises(GatewayError) as caught:
        async for _ in client.stream_chat(GOOD_KEY, chat(f"hi {marker}")):
            pass
    assert caught.value.status == status
    assert words in caught.value.plain()


async def test_unreachable_gateway_is_status_zero_without_the_key() -> None:
    async with GatewayClient(f"http://127.0.0.1:{free_port()}", timeout_s=5) as dead:
        with pytest.raises(GatewayError) as caught:
            await dead.me(GOOD_KEY)
    assert caught.value.status == 0
    assert "cannot be reached" in caught.value.plain()
    assert GOOD_KEY not in caught.value.plain() and GOOD_KEY not in str(caught.value)


async def test_admin_creates_lists_and_revokes_keys(client: GatewayClient) -> None:
    created = await client.create_key(ADMIN_TOKEN, {"name": "ci", "rpm": 10, "team": None})
    assert created.key.startswith("tg-") and created.limits.rpm == 10
    [listed] = await client.list_keys(ADMIN_TOKEN)
    assert listed.id == created.id and not listed.revoked
    assert "key" not in listed.model_dump()
    revoked = await client.revoke_key(ADMIN_TOKEN, created.id)
    assert revoked.revoked and revoked.revoked_at is not None


async def test_admin_routes_refuse_a_wrong_token(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as caught:
        await client.list_keys("not-the-token")
    assert caught.value.status == 401
