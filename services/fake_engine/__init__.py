"""A fake engine shaped like vLLM's OpenAI server: instant or paced, with a capacity and faults.

It is the upstream for gateway tests (chunk timing, disconnects, faults) and the instant
upstream of overhead benchmarks, so it is a raw ASGI app served by uvicorn with httptools and
uvloop. Its wire shapes copy vLLM 0.32's (checked against the real server).

Use it
    with running_fake_engine(FakeEngineConfig(ttft_ms=50, itl_ms=5)) as url: ...
        # a thread on a free 127.0.0.1 port; `url.app.state` is the live state
    with start_fake_engine_process(config) as engine: engine.base_url; engine.kill()
        # a child process, for tests that kill or restart their upstream
    create_fake_engine(config)   # the bare ASGI app (e.g. for httpx.ASGITransport)
    tollgate bench fake-upstream [--port 8000] [--ttft-ms] [--itl-ms] [--output-tokens] [--capacity]

Routes (as vLLM)
    GET  /health                     200 (503 after `{"healthy": false}`)
    GET  /metrics                    Prometheus text: vllm:num_requests_running,
                                     vllm:num_requests_waiting, vllm:kv_cache_usage_perc
                                     (running / capacity), vllm:prompt_tokens_total,
                                     vllm:generation_tokens_total
    GET  /v1/models                  every served name, with max_model_len
    POST /v1/chat/completions        streamed or not; `n`; max_tokens / max_completion_tokens
    POST /v1/completions             prompt: text, token ids, or a batch of either
    POST /v1/embeddings              deterministic vectors; encoding_format float or base64
    POST /tokenize, /detokenize      about one token per word, ChatML for `messages`
    POST /v1/chat/completions/render vLLM's GenerateRequest (token_ids of the templated chat)
Errors are vLLM's: `{"error": {"message", "type": "BadRequestError", "param", "code": 400}}`
for a bad body, max_tokens over max_model_len or a prompt that fills the context (vLLM's
messages); 404 NotFoundError for an unknown model; `{"detail": "Not Found"}` for an unknown
path; with `api_key` set, `/v1/*` needs `Authorization: Bearer <key>` or gets vLLM's
401 `{"error": "Unauthorized"}`.

Answers
    The answer is a fixed cycle of words, one token each. Its length is `max_tokens` (then
    finish_reason "length"), else `output_tokens` (then "stop", as if the model met EOS),
    never more than the context has room for. `logprobs: true` (non-streamed chat) gives each
    token's log-probability (its probability cycles 0.9, 0.5, 0.2) and `top_logprobs`
    alternatives, the token itself first, as vLLM lists them. Streams: headers at once, then after `ttft_ms`
    the role chunk (chat) and the first token, then a token every `itl_ms`, finish_reason on
    the last content chunk, a usage chunk with `choices: []` when
    `stream_options.include_usage` is true, then `data: [DONE]`.
    Capacity: at most `capacity` answers generate at once (an engine of N sequences); the
    rest wait in arrival order; /metrics reports running and waiting. Pacing starts when an
    answer gets its slot. A client that disconnects aborts its answer (counted in stats).

Per-request controls (headers)
    x-fake-fault: <fault>       (any route but /fake/*)
    x-fake-ttft-ms: <ms>, x-fake-itl-ms: <ms>
Faults
    status-<code>               answer <code> (400..599) with a vLLM-shaped error
    die-mid-stream[:<n>]        close the connection after n tokens (default half); not
                                streamed: headers and half the body, then close
    error-mid-stream[:<n>]      after n tokens send vLLM's error event
                                (`data: {"error": {...}}`) and `data: [DONE]`;
                                not streamed: 500
    hang                        never answer (until the client gives up)
    slow-first-byte:<ms>        wait <ms> before anything, then answer normally
    close-before-headers        close the connection without a response

Global controls (for tests in another process)
    POST /fake/control  {"ttft_ms", "itl_ms", "output_tokens", "capacity", "fault",
                         "fault_count" (the fault applies to this many more requests),
                         "healthy"}: only the fields given change; `"fault": null` clears.
                         A global fault applies to POST routes; the header wins over it.
    GET  /fake/control  the current controls
    POST /fake/reset    start-up controls and zero counters
    GET  /fake/stats    requests_started / _completed / _aborted (client disconnect) /
                        _faulted / _rejected, running, waiting, token totals,
                        requests_by_path, last_request and recent_requests (method, path,
                        headers, body; the last 32, not counting /health and /metrics
                        polls), controls. `?path=/v1/completions` keeps only that path's.
"""

from services.fake_engine.app import FakeEngine, create_fake_engine
from services.fake_engine.config import FakeEngineConfig, Fault
from services.fake_engine.server import (
    FakeEngineProcess,
    RunningFakeEngine,
    running_fake_engine,
    serve,
    start_fake_engine_process,
)

__all__ = [
    "FakeEngine",
    "FakeEngineConfig",
    "FakeEngineProcess",
    "Fault",
    "RunningFakeEngine",
    "create_fake_engine",
    "running_fake_engine",
    "serve",
    "start_fake_engine_process",
]
