"""The served UI, driven through `gradio_client` the way a browser drives it, in front of the fake
gateway: sign-in, streamed chat, stop, errors that keep the conversation, security headers."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import structlog
from gradio_client import Client

from tests.ui.conftest import Served, ui_settings
from tests.ui.fake_gateway import EXPIRED_KEY, GOOD_KEY, MODEL, REVOKED_KEY, serve
from ui.security import SECURITY_HEADERS

# /chat's inputs after the message: model, system prompt, temperature, top_p, max tokens, stop, seed.
SAMPLING = (MODEL, "Be brief.", 0.7, 1.0, 64, "", None)


def connect(url: str) -> Client:
    return Client(url + "/", verbose=False)


@pytest.fixture
def ui(ui_url: str, fake_gateway: Served) -> Client:
    """A fresh browser session (its own gr.State) on the shared UI."""
    return connect(ui_url)


@pytest.fixture
def signed_in(ui: Client) -> Client:
    assert "Signed in as" in ui.predict(GOOD_KEY, api_name="/sign_in")[2]
    return ui


def wait_for(condition: object, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_every_response_carries_security_headers(ui_url: str) -> None:
    for path in ("/", "/config", "/gradio_api/info", "/no-such-page"):
        response = httpx.get(ui_url + path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
    assert "frame-ancestors 'none'" in SECURITY_HEADERS["content-security-policy"]


def test_sign_in_shows_who_is_signed_in_and_the_models(ui: Client) -> None:
    result = ui.predict(GOOD_KEY, api_name="/sign_in")
    key_box, message, who, models = result[0], result[1], result[2], result[3]
    assert key_box == "" and message == ""
    assert "Signed in as **alice**" in who and "tg-good" in who
    assert models["value"] == MODEL
    assert GOOD_KEY not in repr(result)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("tg-not-a-real-key", "not recognised"),
        (EXPIRED_KEY, "has expired"),
        (REVOKED_KEY, "has been revoked"),
        ("", "Enter your API key"),
        ("tg-two words", "does not look like an API key"),
    ],
)
def test_bad_keys_are_refused_in_plain_words(ui: Client, key: str, words: str) -> None:
    result = ui.predict(key, api_name="/sign_in")
    assert words in result[1]
    assert "Signed in" not in str(result[2])  # nobody is shown as signed in


def test_chat_before_sign_in_asks_for_a_key(ui: Client) -> None:
    # No model can be picked yet: the list fills in at sign-in.
    answer, status = ui.predict("hello", None, *SAMPLING[1:], api_name="/chat")
    assert "Sign in" in str(answer) and "Sign in" in status


def test_answer_streams_in_growing_pieces(signed_in: Client, fake_gateway: Served) -> None:
    job = signed_in.submit("hello", *SAMPLING, api_name="/chat")
    answer, status = job.result(timeout=30)
    assert answer == "Echo: hello — **fine** thanks."
    assert status.startswith("✓ 12 prompt + 4 answer tokens")
    partials = [out[0] for out in job.outputs()]
    assert len(partials) >= 3
    assert all(b.startswith(a) for a, b in itertools.pairwise(partials))
    sent = fake_gateway.state.requests[-1]["body"]
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    assert (sent["temperature"], sent["max_tokens"], sent["stream"]) == (0.7, 64, True)


def test_chat_asks_for_the_interactive_tier_with_the_ui_token(
    signed_in: Client, fake_gateway: Served, ui_data_dir: Path
) -> None:
    """The UI proves to the gateway that the chat is its own (the token `tollgate up` wrote
    into DATA_DIR), so a person's chat runs interactive even on a standard key."""
    signed_in.predict("hello", *SAMPLING, api_name="/chat")
    token = (ui_data_dir / "ui-token").read_text().strip()
    (sent,) = [r for r in fake_gateway.state.requests if r["path"] == "/v1/chat/completions"]
    assert sent["headers"]["x-tollgate-tier"] == "interactive"
    assert sent["headers"]["x-tollgate-ui-token"] == token


def test_stop_cancels_the_answer_upstream(signed_in: Client, fake_gateway: Served) -> None:
    job = signed_in.submit("tell me a long story [slow]", *SAMPLING, api_name="/chat")
    wait_for(lambda: len(job.outputs()) >= 3)
    job.cancel()
    assert fake_gateway.state.stream_cancelled.wait(15)
    assert fake_gateway.state.streams_finished == 0


def test_several_people_chat_at_once(ui_url: str, fake_gateway: Served) -> None:
    """The queue runs chats side by side: a slow answer never holds up someone else's."""
    people = [connect(ui_url) for _ in range(3)]
    for person in people:
        assert "Signed in as" in person.predict(GOOD_KEY, api_name="/sign_in")[2]
    jobs = [p.submit("a long story [slow]", *SAMPLING, api_name="/chat") for p in people]
    state = fake_gateway.state
    wait_for(lambda: state.streams_started == 3)
    assert state.streams_finished == 0  # all three were answering at the same time
    for job in jobs:
        job.cancel()
    wait_for(lambda: state.streams_cancelled == 3)


def test_gateway_errors_read_as_plain_words_and_keep_the_conversation(
    signed_in: Client, fake_gateway: Served
) -> None:
    signed_in.predict("first question", *SAMPLING, api_name="/chat")
    answer, status = signed_in.predict("second [429]", *SAMPLING, api_name="/chat")
    assert "usage limit of your key. Try again in 7 seconds." in status
    assert "Not answered" in str(answer)
    _, status = signed_in.predict("third [503]", *SAMPLING, api_name="/chat")
    assert "engine is not available right now" in status
    _, status = signed_in.predict("fourth [too long]", *SAMPLING, api_name="/chat")
    assert "too long for the model's context window" in status
    signed_in.predict("fifth", *SAMPLING, api_name="/chat")
    messages = fake_gateway.state.requests[-1]["body"]["messages"]
    # The answered turn is kept; the refused questions and their notes are not sent again.
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "first question"
    assert messages[2]["content"].startswith("Echo: first question")
    assert messages[3]["content"] == "fifth"


def test_error_midway_keeps_the_partial_answer(signed_in: Client) -> None:
    answer, status = signed_in.predict("x [midfail]", *SAMPLING, api_name="/chat")
    assert "Echo: x [midfail]" in str(answer)
    assert "engine answered with an error" in status


def test_sign_out_forgets_the_key(signed_in: Client) -> None:
    result = signed_in.predict(api_name="/sign_out")
    assert result[1] == "Signed out." and result[2] == ""
    answer, _ = signed_in.predict("hello", None, *SAMPLING[1:], api_name="/chat")
    assert "Sign in" in str(answer)


def test_inspection_endpoints_answer_for_a_signed_in_key(signed_in: Client) -> None:
    count, chips, table = signed_in.predict(MODEL, "Hello big world", api_name="/tokenize")
    assert count.startswith("**3 tokens** of 2,048")
    assert "tg-token" in chips and "Ġbig" in chips
    assert [row[3] for row in table["data"]] == ["Hello", " big", " world"]
    info, prompt = signed_in.predict(MODEL, [], "sys", "hi", api_name="/render_prompt")
    assert (
        prompt.rstrip()
        == "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant"
    )
    assert "2 message(s)" in info
    info, html, rows = signed_in.predict(MODEL, [], "", "hi", 0.7, 16, api_name="/probabilities")
    assert "4 tokens" in info and "tg-lp" in html
    assert rows["data"][0][4].endswith("· ' other' 8.2%")


def test_usage_shows_limits_and_a_note_when_accounting_is_off(
    signed_in: Client, fake_gateway: Served
) -> None:
    limits, totals, *_plots = signed_in.predict("Last 24 hours", api_name="/usage")
    assert "| Requests per minute | 60 |" in limits and "Last 24 hours:" in totals
    fake_gateway.state.usage_enabled = False
    limits, note, *_plots = signed_in.predict("Last 7 days", api_name="/usage")
    assert "usage accounting is not enabled" in note
    assert "| Requests per minute | 60 |" in limits


@pytest.fixture(scope="module")
def strict_ui_url(_fake_gateway_server: Served) -> Iterator[str]:
    from ui.app import create_app

    settings = ui_settings(_fake_gateway_server.url, sign_in_rate_limit="3/minute")
    with serve(create_app(settings)) as url:
        yield url


def test_sign_in_is_rate_limited_per_address(strict_ui_url: str) -> None:
    browser = connect(strict_ui_url)
    for _ in range(3):
        assert "not recognised" in browser.predict("tg-guess", api_name="/sign_in")[1]
    message = browser.predict(GOOD_KEY, api_name="/sign_in")[1]
    assert "Too many sign-in attempts from your address" in message
    # Even another session from the same address waits: the limit is per address, not per tab.
    assert "Too many" in connect(strict_ui_url).predict(GOOD_KEY, api_name="/sign_in")[1]


def test_keys_never_reach_the_logs(ui: Client) -> None:
    with structlog.testing.capture_logs() as logs:
        ui.predict(EXPIRED_KEY, api_name="/sign_in")
        ui.predict(GOOD_KEY, api_name="/sign_in")
        ui.predict("hi [429]", *SAMPLING, api_name="/chat")
        ui.predict(api_name="/sign_out")
    events = [entry["event"] for entry in logs]
    assert {"sign_in_refused", "signed_in", "chat_failed", "signed_out"} <= set(events)
    assert EXPIRED_KEY not in repr(logs) and GOOD_KEY not in repr(logs)
