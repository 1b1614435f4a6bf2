"""Every gateway failure reads as plain words, with the gateway's own message kept."""

from __future__ import annotations

import pytest

from ui.errors import GatewayError, parse_retry_after


def error(status: int, message: str = "", **kwargs: object) -> GatewayError:
    body = {
        "error": {"message": message, "type": "x", "param": None, "code": kwargs.pop("code", None)}
    }
    return GatewayError.from_body(status, body, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "code", "expected"),
    [
        ("API key expired at 2026-01-01", "invalid_api_key", "has expired"),
        ("API key revoked", "invalid_api_key", "has been revoked"),
        ("", "key_revoked", "has been revoked"),
        ("Missing API key", "invalid_api_key", "Enter your API key"),
        ("Invalid API key", "invalid_api_key", "not recognised"),
    ],
)
def test_each_kind_of_bad_key_has_its_own_words(message: str, code: str, expected: str) -> None:
    assert expected in error(401, message, code=code).plain()


def test_rate_limit_names_the_wait_from_retry_after() -> None:
    assert "Try again in 1 second." in error(429, "slow down", retry_after_s=0.2).plain()
    assert "Try again in 30 seconds." in error(429, retry_after_s=30).plain()
    assert "about 3 minutes" in error(429, retry_after_s=150).plain()
    assert "wait a little" in error(429).plain()


def test_the_gateways_message_follows_the_plain_words() -> None:
    text = error(503, "all engines are down").plain()
    assert text.startswith("The model engine is not available right now")
    assert text.endswith("(Gateway: all engines are down)")


def test_context_overflow_is_told_apart_from_other_bad_requests() -> None:
    too_long = error(400, "max_tokens=3000 cannot be greater than max_model_len=2048.")
    assert "too long for the model's context window" in too_long.plain()
    assert error(400, "temperature must be >= 0").plain().startswith("The gateway refused")


def test_bodies_that_are_not_openai_shaped_still_give_a_message() -> None:
    assert GatewayError.from_body(500, "oops").message == "HTTP 500"
    assert GatewayError.from_body(404, {"detail": "Not Found"}).message == "Not Found"
    assert GatewayError.from_body(400, {"error": "bad"}).message == "bad"
    assert "problem" in GatewayError.from_body(500, None).plain()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("", None),
        (None, None),
        ("soon", None),
        ("-3", None),
        ("inf", None),
    ],
)
def test_retry_after_is_read_in_seconds(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds
