"""The web UI as a person uses it: headless Chromium, the real UI process, the real gateway and
the real engine. Answers are kept short (small max tokens) so the whole file runs in about a
minute on the tiny default model."""

from __future__ import annotations

import json
import re
import secrets
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import GatewayStack

pytestmark = pytest.mark.e2e

ANSWER_WAIT_MS = 120_000  # a cold engine on a busy 2-core machine can be slow to answer


def sign_in(page: Page, key: str) -> None:
    page.locator("#tg-key input").fill(key)
    page.locator("#tg-sign-in-button").click()


def signed_in(page: Page, stack: GatewayStack) -> Page:
    sign_in(page, stack.api_key)
    page.locator("#tg-who").get_by_text("Signed in as").wait_for()
    return page


def set_number(page: Page, slider_id: str, value: float) -> None:
    """A Gradio slider's number box: type the value and leave the box, as a person would."""
    box = page.locator(f"#{slider_id} input[type=number]")
    box.fill(str(value))
    box.press("Tab")


def send(page: Page, text: str, *, max_tokens: int, temperature: float | None = None) -> None:
    page.locator("#tg-sampling").get_by_text("Sampling").click()
    set_number(page, "tg-max-tokens", max_tokens)
    if temperature is not None:
        set_number(page, "tg-temperature", temperature)
    message = page.locator("#tg-message textarea")
    message.fill(text)
    message.press("Enter")


# The model's bubbles; a `pending` one is Gradio's "Loading content" dots, not an answer yet.
ANSWER = "#tg-chatbot .message.bot:not(.pending)"


def last_answer(page: Page) -> str:
    bots = page.locator(ANSWER)
    return bots.last.inner_text() if bots.count() else ""


def open_tab(page: Page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def test_a_wrong_key_is_refused_with_a_plain_message(page: Page) -> None:
    sign_in(page, "tg-" + "x" * 43)
    message = page.locator("#tg-sign-in-message")
    message.get_by_text("not recognised").wait_for()
    assert "Check that you copied all of it" in message.inner_text()
    assert page.locator("#tg-main").is_hidden()
    assert page.locator("#tg-key input").input_value() == ""  # the key is never sent back


def test_signed_in_a_person_sees_the_answer_stream_in(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    assert page.locator("#tg-sign-in").is_hidden()
    # Record every state the answer bubble goes through, in the page itself, so no quick
    # update is missed between two looks from the test.
    page.evaluate(
        """sel => {
            window.tgSeen = [];
            new MutationObserver(() => {
                const bubbles = document.querySelectorAll(sel);
                const text = bubbles.length ? bubbles[bubbles.length - 1].innerText : "";
                if (text.trim() && window.tgSeen[window.tgSeen.length - 1] !== text) {
                    window.tgSeen.push(text);
                }
            }).observe(document.querySelector("#tg-chatbot"),
                       {subtree: true, childList: true, characterData: true});
        }""",
        ANSWER,
    )
    send(page, "Write a short paragraph about rainbows.", max_tokens=64)
    status = page.locator("#tg-chat-status")
    status.get_by_text("✓").wait_for(timeout=ANSWER_WAIT_MS)
    assert "answer tokens" in status.inner_text()
    seen: list[str] = page.evaluate("window.tgSeen")
    final = last_answer(page)
    assert final.strip()
    # Streamed: the answer was on screen in more than one partial state before it was done.
    partial = [text for text in seen if text != final]
    assert partial, f"the answer appeared all at once: {seen!r}"
    assert len(partial[0].strip()) < len(final.strip())


def test_stop_keeps_the_partial_answer_and_ends_the_upstream_request(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    # A long essay at a lively temperature: the tiny model keeps writing well past the click.
    send(
        page,
        "Write a very long essay about the history of the Roman empire, in twenty sections.",
        max_tokens=1500,
        temperature=1.2,
    )
    page.wait_for_function(
        "s => (document.querySelector(s)?.innerText || '').trim().length > 5",
        arg=ANSWER,
        timeout=ANSWER_WAIT_MS,
    )
    earlier = set(gateway_stack.log_lines())  # other tests' requests are not this one
    page.locator("#tg-message button.stop-button").click()
    page.locator("#tg-chat-status").get_by_text("Stopped").wait_for()
    kept = last_answer(page)
    assert kept.strip()
    page.wait_for_timeout(1000)
    assert last_answer(page) == kept  # nothing more arrives after Stop
    # The gateway saw the UI hang up and ended the request before it was done.
    disconnected = []
    for _ in range(50):
        disconnected = [
            line
            for line in gateway_stack.log_lines()
            if line not in earlier
            and '"client_disconnected": true' in line
            and "/v1/chat/completions" in line
        ]
        if disconnected:
            break
        time.sleep(0.2)
    assert disconnected, "the gateway never saw the stopped stream closed"
    record = json.loads(disconnected[-1])
    assert record["stream"] is True


def test_inspect_shows_the_model_card_tokens_prompt_and_probabilities(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    open_tab(page, "Inspect")
    card = page.locator("#tg-model-card")
    card.get_by_text(gateway_stack.model).first.wait_for()
    assert "2,048 tokens" in card.inner_text()  # the engine's max context
    page.locator("#tg-engine").get_by_text("Requests running").wait_for()

    page.locator("#tg-tok-text textarea").fill("Hello tollgate world")
    page.locator("#tg-tokenize").click()
    count = page.locator("#tg-token-count")
    count.get_by_text("of 2,048 in the context window").wait_for()
    tokens = int(re.search(r"(\d+) tokens?", count.inner_text()).group(1))  # type: ignore[union-attr]
    assert tokens == page.locator("#tg-token-chips .tg-token").count() > 1

    page.locator("#tg-next-message textarea").fill("What is a toll gate?")
    page.locator("#tg-render").click()
    page.locator("#tg-prompt-info").get_by_text("through the chat template").wait_for()
    prompt = page.locator("#tg-prompt").inner_text()
    assert "<|im_start|>user" in prompt and "What is a toll gate?" in prompt

    set_number(page, "tg-lp-max-tokens", 8)
    page.locator("#tg-logprobs").click()
    page.locator("#tg-logprob-info").get_by_text("mean logprob").wait_for(timeout=ANSWER_WAIT_MS)
    coloured = page.locator("#tg-logprob-view .tg-lp")
    assert 1 <= coloured.count() <= 8
    assert "%" in (coloured.first.get_attribute("title") or "")  # alternatives on hover


def test_my_usage_shows_limits_and_the_requests_plot(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    send(page, "Say hi.", max_tokens=8)
    page.locator("#tg-chat-status").get_by_text("✓").wait_for(timeout=ANSWER_WAIT_MS)
    open_tab(page, "My usage")
    limits = page.locator("#tg-limits")
    limits.get_by_text("Requests per minute").wait_for()
    assert "e2e" in limits.inner_text()  # the key's name
    expect(page.locator("#tg-usage-note")).to_contain_text("Last 24 hours:")
    expect(page.locator("#tg-usage-requests")).to_be_visible()  # the plot of my requests


def test_sign_out_forgets_the_key_and_the_conversation(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    send(page, "Say hi.", max_tokens=8)
    page.locator("#tg-chat-status").get_by_text("✓").wait_for(timeout=ANSWER_WAIT_MS)
    page.locator("#tg-sign-out").click()
    page.locator("#tg-sign-in-message").get_by_text("Signed out.").wait_for()
    assert page.locator("#tg-main").is_hidden()
    assert page.locator("#tg-who").inner_text().strip() == ""
    # Signing in again starts from an empty chat: nothing of the last session is left.
    signed_in(page, gateway_stack)
    assert page.locator("#tg-chatbot .message").count() == 0


def test_admin_creates_a_key_shown_once_and_revokes_it(
    page: Page, gateway_stack: GatewayStack
) -> None:
    signed_in(page, gateway_stack)
    open_tab(page, "Admin")
    page.locator("#tg-admin-token input").fill(gateway_stack.admin_token)
    page.locator("#tg-admin-unlock").click()
    keys_table = page.locator("#tg-admin-keys")
    expect(keys_table).to_contain_text(gateway_stack.api_key[:11])  # the session key's prefix

    name = f"ui-{secrets.token_hex(3)}"
    page.locator("#tg-admin-name textarea").fill(name)
    page.locator("#tg-admin-create").click()
    message = page.locator("#tg-admin-message")
    message.get_by_text("Copy it now").wait_for()
    key_id = re.search(r"key_[0-9a-f]+", message.inner_text()).group(0)  # type: ignore[union-attr]
    new_key = page.locator("#tg-admin-new-key textarea").input_value()
    assert new_key.startswith("tg-")
    me = f"{gateway_stack.gateway_url}/tollgate/me"
    auth = {"authorization": f"Bearer {new_key}"}
    assert httpx.get(me, headers=auth, timeout=30).json()["name"] == name
    # The list shows the new key by name and prefix only, never the whole key.
    expect(keys_table).to_contain_text(name)
    assert new_key not in keys_table.inner_text()

    dropdown = page.locator("#tg-admin-revoke-id input")
    page.get_by_text("Revoke a key").click()
    dropdown.fill(key_id)
    page.get_by_role("option", name=key_id).click()
    page.locator("#tg-admin-sure input").check()
    page.locator("#tg-admin-revoke").click()
    message.get_by_text("Revoked").wait_for()
    assert httpx.get(me, headers=auth, timeout=30).status_code == 401
