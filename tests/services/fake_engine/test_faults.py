"""Faults injected per request (header) or for everyone (control route) behave as documented."""

from __future__ import annotations

import time
from typing import Any

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from services.fake_engine import FakeEngineConfig, running_fake_engine

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]
CHAT = {"messages": MESSAGES, "max_tokens": 6}
STREAM = {**CHAT, "stream": True}


def wait_for(predicate: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def stats(http: httpx.Client) -> dict[str, Any]:
    return http.get("/fake/stats").json()


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("status-500", openai.InternalServerError),
        ("status-503", openai.InternalServerError),
        ("status-429", openai.RateLimitError),
    ],
)
def test_status_fault_raises_the_sdk_error_class(
    sdk: openai.OpenAI, fault: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        sdk.chat.completions.create(
            model="fake-model", messages=MESSAGES, extra_headers={"x-fake-fault": fault}
        )


def test_die_mid_stream_breaks_the_stream_after_some_tokens(http: httpx.Client) -> None:
    seen: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        http.stream(
            "POST",
            "/v1/chat/completions",
            json=STREAM,
            headers={"x-fake-fault": "die-mid-stream:2"},
        ) as response,
    ):
        assert response.status_code == 200
        seen.extend(line for line in response.iter_lines() if line)
    assert len(seen) == 3  # the role chunk and two tokens
    assert "data: [DONE]" not in seen
    assert stats(http)["requests_faulted"] == 1


def test_die_mid_stream_on_a_plain_answer_cuts_the_body(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            "/v1/completions", json={"prompt": "x"}, headers={"x-fake-fault": "die-mid-stream"}
        )


def test_error_mid_stream_ends_with_an_error_event_the_sdk_raises(sdk: openai.OpenAI) -> None:
    stream = sdk.chat.completions.create(
        model="fake-model",
        messages=MESSAGES,
        stream=True,
        extra_headers={"x-fake-fault": "error-mid-stream:1"},
    )
    with pytest.raises(openai.APIError, match="failed mid-stream"):
        list(stream)


def test_close_before_headers_gives_no_response(http: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(
            "/v1/chat/completions", json=CHAT, headers={"x-fake-fault": "close-before-headers"}
        )
    assert http.get("/health").status_code == 200  # the engine itself is fine


def test_hang_holds_until_the_client_gives_up_and_counts_an_abort(
    fake_engine: str, http: httpx.Client
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake_engine}/v1/chat/completions",
            json=CHAT,
            headers={"x-fake-fault": "hang"},
            timeout=httpx.Timeout(5, read=0.3),
        )
    wait_for(lambda: stats(http)["requests_aborted"] == 1)


def test_slow_first_byte_delays_then_answers(fake_engine: str) -> None:
    headers = {"x-fake-fault": "slow-first-byte:400"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{fake_engine}/v1/completions",
            json={"prompt": "x"},
            headers=headers,
            timeout=httpx.Timeout(5, read=0.05),
        )
    answer = httpx.post(f"{fake_engine}/v1/completions", json={"prompt": "x"}, headers=headers)
    assert answer.status_code == 200


def test_unknown_fault_header_is_a_bad_request(http: httpx.Client) -> None:
    response = http.post("/v1/completions", json={"prompt": "x"}, headers={"x-fake-fault": "melt"})
    assert response.status_code == 400
    assert "unknown fault" in response.json()["error"]["message"]


def test_global_fault_applies_to_the_next_requests_then_clears(http: httpx.Client) -> None:
    control = http.post("/fake/control", json={"fault": "status-503", "fault_count": 2})
    assert control.json()["fault"] == "status-503"
    codes = [http.post("/v1/completions", json={"prompt": "x"}).status_code for _ in range(3)]
    assert codes == [503, 503, 200]
    assert http.get("/fake/control").json()["fault"] is None


def test_global_fault_stays_until_cleared_and_spares_health(http: httpx.Client) -> None:
    http.post("/fake/control", json={"fault": "status-500"})
    assert http.post("/v1/completions", json={"prompt": "x"}).status_code == 500
    assert http.get("/health").status_code == 200
    http.post("/fake/control", json={"fault": None})
    assert http.post("/v1/completions", json={"prompt": "x"}).status_code == 200


def test_unhealthy_control_fails_health(http: httpx.Client) -> None:
    http.post("/fake/control", json={"healthy": False})
    assert http.get("/health").status_code == 503
    http.post("/fake/reset")
    assert http.get("/health").status_code == 200


def test_bad_control_is_refused(http: httpx.Client) -> None:
    for body in ({"fault": "explode"}, {"capacity": 0}, {"surprise": 1}):
        response = http.post("/fake/control", json=body)
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == 400


def test_client_disconnect_mid_stream_aborts_the_answer(http: httpx.Client) -> None:
    with (
        running_fake_engine(FakeEngineConfig(itl_ms=50)) as url,
        httpx.Client(base_url=url) as client,
    ):
        with client.stream(
            "POST", "/v1/chat/completions", json={**STREAM, "max_tokens": 100}
        ) as response:
            lines = response.iter_lines()
            next(lines)  # the first chunk arrived; now walk away
        wait_for(lambda: client.get("/fake/stats").json()["requests_aborted"] == 1)
        seen = client.get("/fake/stats").json()
        assert seen["requests_completed"] == 0
        assert seen["running"] == 0
        assert seen["generation_tokens_total"] < 100


def test_stats_record_what_arrived(http: httpx.Client) -> None:
    http.post(
        "/v1/completions",
        json={"prompt": "x", "top_k": 5},
        headers={"authorization": "Bearer engine-key", "x-request-id": "req-1"},
    )
    http.get("/health")  # polls do not push requests out of view
    last = stats(http)["last_request"]
    assert last["path"] == "/v1/completions"
    assert last["headers"]["authorization"] == "Bearer engine-key"
    assert last["headers"]["x-request-id"] == "req-1"
    assert last["body"] == {"prompt": "x", "top_k": 5}
    http.get("/v1/models")
    only = http.get("/fake/stats", params={"path": "/v1/completions"}).json()
    assert [r["path"] for r in only["recent_requests"]] == ["/v1/completions"]
    assert only["requests_by_path"]["/health"] == 1


def test_faults_work_in_a_child_process_that_can_be_killed() -> None:
    from services.fake_engine import start_fake_engine_process

    with start_fake_engine_process(FakeEngineConfig(ttft_ms=5)) as engine:
        assert httpx.get(f"{engine.base_url}/health").status_code == 200
        httpx.post(f"{engine.base_url}/fake/control", json={"fault": "status-502"})
        assert (
            httpx.post(f"{engine.base_url}/v1/completions", json={"prompt": "x"}).status_code == 502
        )
        engine.kill()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{engine.base_url}/health")
