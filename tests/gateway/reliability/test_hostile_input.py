"""Hostile input against a real `tollgate gateway` process: fuzzed schema operations, generated
bodies, oversized and malformed requests, slow clients. Each gets a 4xx in OpenAI's shape (or
the connection is closed for a client too slow to send one), never a 5xx, and the next good
request still works."""

from __future__ import annotations

import json
import socket
import time

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.gateway.reliability.conftest import MAX_BODY_BYTES, Served
from tests.gateway.reliability.support import (
    ADMIN,
    CHAT,
    assert_openai_error,
    bearer,
    error_of,
    raw_request,
)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    phases=[Phase.generate],
    suppress_health_check=list(HealthCheck),
)
# What a generated request may legitimately get; 5xx never (the fake engine is up throughout).
CLIENT_ERRORS = {400, 401, 403, 404, 405, 409, 413, 415, 422, 429}


def check_answer(status: int, text: str) -> None:
    """No server error; every error answer is in OpenAI's shape."""
    assert status < 500, (status, text[:500])
    if status >= 400:
        error = json.loads(text)["error"]
        assert set(error) == {"message", "type", "param", "code"}, error


def test_schemathesis_finds_no_server_error_on_any_route(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/schema/openapi.json")
    seen: dict[int, int] = {}

    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @FUZZ
        @given(case=schema.as_strategy(mode))
        def fuzz(case: schemathesis.Case) -> None:
            path = case.operation.path
            token = served.key if not path.startswith("/admin") else ADMIN["authorization"][7:]
            response = case.call(base_url=served.url, headers=bearer(token), timeout=15)
            seen[response.status_code] = seen.get(response.status_code, 0) + 1
            check_answer(response.status_code, response.text)

        fuzz()
    assert sum(seen.values()) >= 200 and any(code >= 400 for code in seen), seen
    served.assert_still_serving()


JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
MESSAGES = (
    st.lists(
        st.fixed_dictionaries(
            {"role": st.sampled_from(["user", "system", "assistant", "tool", "x"]) | JSONISH},
            optional={"content": st.text(max_size=40) | JSONISH, "name": JSONISH},
        ),
        max_size=3,
    )
    | JSONISH
)
BODIES = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["fake-model", "other-model", "nope"]) | JSONISH,
        "messages": MESSAGES,
        "prompt": st.text(max_size=40) | st.lists(st.integers(-5, 70000), max_size=5) | JSONISH,
        "max_tokens": st.integers(-(2**70), 2**70) | JSONISH,
        "n": st.integers(-5, 2**40) | JSONISH,
        "stream": st.booleans() | JSONISH,
        "stream_options": JSONISH,
        "logprobs": st.integers(-5, 10**6) | st.booleans() | JSONISH,
        "top_logprobs": st.integers(-5, 10**6) | JSONISH,
        "best_of": st.integers(-5, 10**6) | JSONISH,
        "temperature": st.floats(allow_nan=False, allow_infinity=False) | JSONISH,
    },
)


def test_generated_chat_and_completion_bodies_never_cause_a_server_error(served: Served) -> None:
    client = httpx.Client(base_url=served.url, headers=bearer(served.key), timeout=15)

    @FUZZ
    @given(body=BODIES, route=st.sampled_from(["/v1/chat/completions", "/v1/completions"]))
    def fuzz(body: dict[str, object], route: str) -> None:
        response = client.post(route, json=body)
        assert response.status_code in {200, *CLIENT_ERRORS}, (body, response.text[:300])
        check_answer(response.status_code, response.text)

    fuzz()
    client.close()
    served.assert_still_serving()


def post(served: Served, content: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{served.url}/v1/chat/completions",
        content=content,
        headers={**bearer(served.key), "content-type": "application/json", **headers},
        timeout=15,
    )


def test_oversized_bodies_are_refused_with_413(served: Served) -> None:
    big = json.dumps({**CHAT, "padding": "x" * MAX_BODY_BYTES}).encode()
    assert assert_openai_error(post(served, big), 413)["code"] == "request_too_large"

    def chunked() -> object:
        yield json.dumps(CHAT)[:-1].encode() + b', "padding": "'
        for _ in range(MAX_BODY_BYTES // 4096 + 2):
            yield b"x" * 4096
        yield b'"}'

    response = httpx.post(
        f"{served.url}/v1/chat/completions",
        content=chunked(),  # type: ignore[arg-type]
        headers=bearer(served.key),
        timeout=15,
    )
    assert_openai_error(response, 413)
    admin = httpx.post(
        f"{served.url}/admin/keys",
        content=big,
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert_openai_error(admin, 400, 413)
    served.assert_still_serving()


def test_oversized_and_too_many_headers_are_refused(served: Served) -> None:
    status, _, _ = raw_request(
        served.port,
        b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 200_000 + b"\r\n\r\n",
    )
    assert status == 431  # refused before the app (or the key check) sees it
    many = "".join(f"x-h{i}: {i}\r\n" for i in range(5000)).encode()
    status, _, _ = raw_request(served.port, b"GET /health HTTP/1.1\r\nhost: x\r\n" + many + b"\r\n")
    assert status != 500
    served.assert_still_serving()


def test_invalid_utf8_and_malformed_json_are_400s(served: Served) -> None:
    for content in (
        b'{"model": "fake-model", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        b"\xff\xfe\xfd",
        b'{"model": "fake-model", "messages": ',
        b"",
        b"null",
        b"[]",
        b'{"model": "\\ud800"}',
        b"\x00" * 100,
    ):
        # The gateway reads only the fields it needs; bad bytes elsewhere get the engine's 400.
        error = assert_openai_error(post(served, content), 400)
        assert error["type"] in ("invalid_request_error", "BadRequestError")
    served.assert_still_serving()


def test_deeply_nested_json_is_a_400_not_a_crash(served: Served) -> None:
    depth = 50_000
    nested = b'{"model": "fake-model", "messages": ' + b"[" * depth + b"]" * depth + b"}"
    assert_openai_error(post(served, nested), 400, 413)
    also = b'{"model": "fake-model", "x": ' + b'{"a":' * depth + b"1" + b"}" * depth + b"}"
    assert_openai_error(post(served, also), 400, 413)
    admin = httpx.post(
        f"{served.url}/admin/keys",
        content=b'{"name": ' + b"[" * depth + b"]" * depth + b"}",
        headers={**ADMIN, "content-type": "application/json"},
    )
    assert_openai_error(admin, 400, 413)
    served.assert_still_serving()


def test_huge_counts_are_refused_before_the_engine_has_to_try(served: Served) -> None:
    for route, body in (
        ("/v1/chat/completions", {**CHAT, "n": 10**9}),
        ("/v1/chat/completions", {**CHAT, "max_tokens": 10**12}),
        ("/v1/chat/completions", {**CHAT, "max_tokens": 10**40}),
        ("/v1/chat/completions", {**CHAT, "logprobs": True, "top_logprobs": 10**6}),
        ("/v1/completions", {"model": "fake-model", "prompt": "hi", "logprobs": 10**6}),
        ("/v1/completions", {"model": "fake-model", "prompt": "hi", "best_of": 10**6}),
        ("/v1/completions", {"model": "fake-model", "prompt": "hi", "n": 10**6, "best_of": 1}),
    ):
        response = httpx.post(
            f"{served.url}{route}", json=body, headers=bearer(served.key), timeout=15
        )
        assert_openai_error(response, 400, 422)
    served.assert_still_serving()


def test_wrong_content_types_are_refused(served: Served) -> None:
    good = json.dumps(CHAT).encode()
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ):
        response = post(served, good, **{"content-type": content_type})
        assert assert_openai_error(response, 415)["code"] == "unsupported_media_type"
    form = httpx.post(
        f"{served.url}/v1/chat/completions",
        data={"model": "fake-model"},
        headers=bearer(served.key),
    )
    assert_openai_error(form, 415)
    admin = httpx.post(
        f"{served.url}/admin/keys",
        content=b'{"name": "x"}',
        headers={**ADMIN, "content-type": "text/plain"},
    )
    assert admin.status_code < 500
    served.assert_still_serving()


def test_path_tricks_get_openai_shaped_4xx(served: Served) -> None:
    for target in (
        "/v1/chat%2Fcompletions",
        "/v1/%2e%2e/%2e%2e/etc/passwd",
        "/v1/models/../../etc/passwd",
        "/v1/" + "a" * 8000,
        "/v1/models%00",
        "/%ff%fe",
    ):
        status, _, body = raw_request(
            served.port,
            f"GET {target} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {served.key}\r\n"
            "connection: close\r\n\r\n".encode(),
        )
        assert 400 <= status < 500, (target, status)
        error_of(body)
    # Bytes no HTTP parser accepts: uvicorn's own plain-text 400 used to answer these.
    for line in (b"GET /v1/\x01models HTTP/1.1", b"GET /v1/models HTTP/9.9", b"\x16\x03\x01"):
        status, headers, body = raw_request(served.port, line + b"\r\nhost: x\r\n\r\n")
        assert status == 400 and headers["content-type"] == "application/json", (line, body)
        assert error_of(body)["code"] == "invalid_http_request"
    served.assert_still_serving()


def test_header_injection_does_not_reach_the_response_or_the_engine(served: Served) -> None:
    status, headers, _ = raw_request(
        served.port,
        (
            "GET /v1/models HTTP/1.1\r\nhost: x\r\n"
            f"authorization: Bearer {served.key}\r\n"
            "x-request-id: abc\rset-cookie: stolen=1\r\n"
            "connection: close\r\n\r\n"
        ).encode(),
    )
    assert status in (0, 400) or "set-cookie" not in headers
    # A request id that is not a plain token is replaced, never echoed.
    response = httpx.get(
        f"{served.url}/v1/models",
        headers={**bearer(served.key), "x-request-id": "evil\tvalue<script>" + "x" * 500},
    )
    assert response.status_code == 200
    assert "evil" not in response.headers["x-request-id"]
    served.assert_still_serving()


def test_slow_clients_are_timed_out_and_never_hold_up_others(served: Served) -> None:
    """Slowloris: a head sent a byte at a time, a body that never finishes. The read timeout
    (2 s here) closes them with 408; everyone else is served meanwhile."""
    slow_head = socket.create_connection(("127.0.0.1", served.port))
    slow_head.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nx-slow: ")
    slow_body = socket.create_connection(("127.0.0.1", served.port))
    slow_body.sendall(
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        + f"authorization: Bearer {served.key}\r\ncontent-length: 1000\r\n\r\n".encode()
        + b'{"model": "fake-model", '
    )
    try:
        served.assert_still_serving()  # the slow ones hold up nobody
        for _ in range(4):  # trickling a byte now and then does not reset the clock
            slow_head.sendall(b"a")
            slow_body.sendall(b" ")
            time.sleep(0.1)
        for sock in (slow_head, slow_body):
            sock.settimeout(10)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
            error_of(answer.partition(b"\r\n\r\n")[2])
    finally:
        slow_head.close()
        slow_body.close()
    served.assert_still_serving()


def test_the_read_timeout_spares_idle_kept_alive_connections(served: Served) -> None:
    """SDKs keep connections open between requests: the slow-client guard must not cut them."""
    with httpx.Client(base_url=served.url, headers=bearer(served.key), timeout=15) as client:
        assert client.get("/v1/models").status_code == 200
        time.sleep(2.5)  # longer than the 2 s read timeout, idle
        again = client.get("/v1/models")
        assert again.status_code == 200
        assert client.get("/v1/models").status_code == 200
