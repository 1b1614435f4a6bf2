"""The served UI, driven through `gradio_client` the way a browser drives it, in front of the
real gateway and a fake engine: sign-in, streamed chat, stop, errors that keep the
conversation, security headers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from gradio_client import Client

from services.fake_engine.tokens import answer_text, count_tokens, render_chat
from shared.schemas.keys import KeyCreated
from tests.ui.conftest import ui_settings
from tests.ui.stack import MODEL, SLOW, RecordingTransport, Stack, serving, wait_for
from ui.security import SECURITY_HEADERS

MAX_TOKENS = 64
# /chat's inputs after the message: model, system prompt, temperature, top_p, max tokens, stop, seed.
SAMPLING = (MODEL, "Be brief.", 0.7, 1.0, MAX_TOKENS, "", None)


def connect(url: str) -> Client:
    return Client(url + "/", verbose=False)


def sign_in(ui: Client, key: str) -> Client:
    assert "Signed in as" in ui.predict(key, api_name="/sign_in")[2]
    return ui


@pytest.fixture
def ui(ui_url: str, stack: Stack) -> Client:
    """A fresh browser session (its own gr.State) on the shared UI."""
    return connect(ui_url)


@pytest.fixture
def signed_in(ui: Client, alice: KeyCreated) -> Client:
    return sign_in(ui, alice.key)


def test_every_response_carries_security_headers(ui_url: str) -> None:
    for path in ("/", "/config", "/gradio_api/info", "/no-such-page"):
        response = httpx.get(ui_url + path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["content-security-policy"]


def test_sign_in_shows_who_is_signed_in_and_the_models(ui: Client, alice: KeyCreated) -> None:
    result = ui.predict(alice.key, api_name="/sign_in")
    key_box, message, who, models = result[0], result[1], result[2], result[3]
    assert key_box == "" and message == ""
    assert "Signed in as **alice** · team data" in who and f"`{alice.prefix}…`" in who
    assert models["value"] == MODEL
    assert alice.key not in repr(result)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("tg-not-a-real-key", "not recognised"),
        ("expired_key", "has expired"),
        ("revoked_key", "has been revoked"),
        ("", "Enter your API key"),
        ("tg-two words", "does not look like an API key"),
    ],
)
def test_bad_keys_are_refused_in_plain_words(
    ui: Client, request: pytest.FixtureRequest, key: str, words: str
) -> None:
    if key.endswith("_key"):  # a real key the gateway made, then let expire or revoked
        key = request.getfixturevalue(key)
    result = ui.predict(key, api_name="/sign_in")
    assert words in result[1]
    assert "Signed in" not in str(result[2])  # nobody is shown as signed in


def test_chat_before_sign_in_asks_for_a_key(ui: Client) -> None:
    # No model can be picked yet: the list fills in at sign-in.
    answer, status = ui.predict("hello", None, *SAMPLING[1:], api_name="/chat")
    assert "Sign in" in str(answer) and "Sign in" in status


def test_answer_streams_in_growing_pieces(signed_in: Client, ui_sent: RecordingTransport) -> None:
    job = signed_in.submit("hello", *SAMPLING, api_name="/chat")
    answer, status = job.result(timeout=30)
    assert answer == answer_text(MAX_TOKENS)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
    prompt_tokens = count_tokens(render_chat(messages))
    assert status.startswith(f"✓ {prompt_tokens} prompt + {MAX_TOKENS} answer tokens")
    assert "stopped at **Max tokens**" in status
    partials = [out[0] for out in job.outputs()]
    assert len(partials) >= 3
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))
    sent = ui_sent.last().body
    assert sent["messages"] == messages
    assert (sent["temperature"], sent["max_tokens"], sent["stream"]) == (0.7, MAX_TOKENS, True)


def test_chat_asks_for_the_interactive_tier_with_the_ui_token(
    signed_in: Client, ui_sent: RecordingTransport, stack: Stack, data_dir: Path
) -> None:
    """The UI proves to the gateway that the chat is its own (the token `tollgate up` wrote
    into DATA_DIR), so a person's chat runs interactive even on a standard key."""
    signed_in.predict("hello", *SAMPLING, api_name="/chat")
    token = (data_dir / "ui-token").read_text().strip()
    sent = ui_sent.last()
    assert sent.headers["x-tollgate-tier"] == "interactive"
    assert sent.headers["x-tollgate-ui-token"] == token
    # The gateway believed it: the engine got the interactive priority (-10), not the token.
    [seen] = stack.engine_saw()
    assert seen["body"]["priority"] == -10
    assert token not in repr(seen)


def test_stop_cancels_the_answer_upstream(signed_in: Client, stack: Stack) -> None:
    stack.control(**SLOW)
    job = signed_in.submit("tell me a long story", *SAMPLING, api_name="/chat")
    wait_for(lambda: len(job.outputs()) >= 3)
    job.cancel()
    wait_for(lambda: stack.engine_stats()["requests_aborted"] == 1)
    assert stack.engine_stats()["requests_completed"] == 0


def test_several_people_chat_at_once(ui_url: str, stack: Stack, alice: KeyCreated) -> None:
    """The queue runs chats side by side: a slow answer never holds up someone else's."""
    stack.control(**SLOW)
    people = [sign_in(connect(ui_url), alice.key) for _ in range(3)]
    jobs = [p.submit("a long story", *SAMPLING, api_name="/chat") for p in people]
    wait_for(lambda: stack.engine_stats()["running"] == 3)
    assert stack.engine_stats()["requests_completed"] == 0  # all three answering at once
    for job in jobs:
        job.cancel()
    wait_for(lambda: stack.engine_stats()["requests_aborted"] == 3)


def test_gateway_errors_read_as_plain_words_and_keep_the_conversation(
    ui: Client, stack: Stack, ui_sent: RecordingTransport
) -> None:
    carol = stack.create_key(name="carol", max_concurrency=1)
    sign_in(ui, carol.key)
    first, _ = ui.predict("first question", *SAMPLING, api_name="/chat")
    # Carol's one request at a time is taken by a long answer she asked for elsewhere.
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as other_tab:
        body = {"model": MODEL, "messages": [{"role": "user", "content": "go"}], "stream": True}
        headers = {"authorization": f"Bearer {carol.key}", "x-fake-itl-ms": "200"}
        with other_tab.stream("POST", "/v1/chat/completions", json=body, headers=headers) as held:
            assert held.status_code == 200
            answer, status = ui.predict("second", *SAMPLING, api_name="/chat")
    assert "You have reached a usage limit of your key. Try again in 1 second." in status
    assert "Not answered" in str(answer)
    wait_for(lambda: _concurrency_left(stack, carol.key) == 1)  # the held answer has ended
    stack.control(fault="status-503", fault_count=1)
    _, status = ui.predict("third", *SAMPLING, api_name="/chat")
    assert "engine is not available right now" in status
    too_long = "fourth " + "word " * 2100  # more than the engine's 2,048-token context
    _, status = ui.predict(too_long, *SAMPLING, api_name="/chat")
    assert "too long for the model's context window" in status
    ui.predict("fifth", *SAMPLING, api_name="/chat")
    messages = ui_sent.last().body["messages"]
    # The answered turn is kept; the refused questions and their notes are not sent again.
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "first question"
    assert messages[2]["content"] == first == answer_text(MAX_TOKENS)
    assert messages[3]["content"] == "fifth"


def _concurrency_left(stack: Stack, key: str) -> int | None:
    me = httpx.get(f"{stack.gateway_url}/tollgate/me", headers={"authorization": f"Bearer {key}"})
    concurrency = (me.json().get("remaining") or {}).get("concurrency") or {}
    return concurrency.get("remaining")


def test_error_midway_keeps_the_partial_answer(signed_in: Client, stack: Stack) -> None:
    stack.control(fault="die-mid-stream:2", fault_count=1)  # the engine dies after 2 tokens
    answer, status = signed_in.predict("x", *SAMPLING, api_name="/chat")
    assert answer_text(2) in str(answer)
    assert "engine answered with an error" in status


def test_sign_out_forgets_the_key(signed_in: Client) -> None:
    result = signed_in.predict(api_name="/sign_out")
    assert result[1] == "Signed out." and result[2] == ""
    answer, _ = signed_in.predict("hello", None, *SAMPLING[1:], api_name="/chat")
    assert "Sign in" in str(answer)


def test_inspection_endpoints_answer_for_a_signed_in_key(signed_in: Client) -> None:
    count, chips, table = signed_in.predict(MODEL, "Hello big world", api_name="/tokenize")
    assert count.startswith("**3 tokens** of 2,048")
    assert chips.count('class="tg-token"') == 3 and ">Hello</span>" in chips
    assert [row[3] for row in table["data"]] == ["Hello", " big", " world"]
    info, prompt = signed_in.predict(MODEL, [], "sys", "hi", api_name="/render_prompt")
    assert (
        prompt.rstrip()
        == "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant"
    )
    assert "2 message(s)" in info
    info, html, rows = signed_in.predict(MODEL, [], "", "hi", 0.7, 16, api_name="/probabilities")
    assert info.startswith("16 tokens") and "tg-lp" in html
    assert rows["data"][0][4].startswith("'The' 90.0% · ' quick' 5.0% · ' brown' 2.5%")


def test_usage_shows_limits_and_what_was_used(signed_in: Client, alice: KeyCreated) -> None:
    signed_in.predict("hello", *SAMPLING, api_name="/chat")

    def shown() -> tuple[str, str]:
        limits, totals, *_plots = signed_in.predict("Last 24 hours", api_name="/usage")
        return limits, totals

    wait_for(lambda: "Last 24 hours:" in shown()[1])  # once the ledger has the requests
    limits, totals = shown()
    assert "| Requests per minute | 600 |" in limits
    assert "| Tokens today (UTC) | 50,000 |" in limits
    assert f"{MAX_TOKENS} answer tokens" in totals


@pytest.fixture(scope="module")
def degraded_ui_url(degraded: Stack, data_dir: Path) -> Iterator[str]:
    """The UI in front of a gateway with no engine answering and no usage ledger."""
    from ui.app import create_app

    with serving(create_app(ui_settings(degraded, data_dir))) as url:
        yield url


def test_usage_shows_limits_and_a_note_when_accounting_is_off(
    degraded_ui_url: str, degraded: Stack
) -> None:
    key = degraded.create_key(name="dave", rpm=60).key
    # The key is good, so the person is signed in, though no engine lists models yet.
    ui = sign_in(connect(degraded_ui_url), key)
    limits, note, *_plots = ui.predict("Last 7 days", api_name="/usage")
    assert "usage accounting is not enabled" in note
    assert "| Requests per minute | 60 |" in limits


@pytest.fixture(scope="module")
def strict_ui_url(_stack: Stack, data_dir: Path) -> Iterator[str]:
    from ui.app import create_app

    with serving(create_app(ui_settings(_stack, data_dir, sign_in_rate_limit="3/minute"))) as url:
        yield url


def test_sign_in_is_rate_limited_per_address(strict_ui_url: str, alice: KeyCreated) -> None:
    browser = connect(strict_ui_url)
    for _ in range(3):
        assert "not recognised" in browser.predict("tg-guess", api_name="/sign_in")[1]
    message = browser.predict(alice.key, api_name="/sign_in")[1]
    assert "Too many sign-in attempts from your address" in message
    # Even another session from the same address waits: the limit is per address, not per tab.
    assert "Too many" in connect(strict_ui_url).predict(alice.key, api_name="/sign_in")[1]


def test_keys_never_reach_the_logs(ui: Client, stack: Stack, expired_key: str) -> None:
    bob = stack.create_key(name="bob", rpm=1)  # signing in (the model list) is his one request
    with structlog.testing.capture_logs() as logs:
        ui.predict(expired_key, api_name="/sign_in")
        ui.predict(bob.key, api_name="/sign_in")
        _, status = ui.predict("hi", *SAMPLING, api_name="/chat")
        ui.predict(api_name="/sign_out")
    assert "usage limit of your key" in status
    events = [entry["event"] for entry in logs]
    assert {"sign_in_refused", "signed_in", "chat_failed", "signed_out"} <= set(events)
    assert expired_key not in repr(logs) and bob.key not in repr(logs)
