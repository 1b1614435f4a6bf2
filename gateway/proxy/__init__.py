"""The OpenAI-compatible proxy to the engines.

routes.py       which engine routes are proxied, and what each body must contain
controllers.py  Litestar handlers (HTTP glue), /health, /ready, /tollgate/engine
service.py      one request: checks, admission, upstream, response
bodies.py       size-limited body reading and the few field checks
streaming.py    SSE relay, client-disconnect propagation, the final error event
responses.py    raw ASGI responses, usage from answers, engine errors in OpenAI's shape
exchange.py     the single place a proxied request is finished (outcome, tickets)
hooks.py        seams for limits, queueing, usage ledger, metrics
upstreams.py    the engines, their health and models; the selector protocol (gateway/routing)
engine_state.py vLLM /metrics sampled for /tollgate/engine
client.py       the pooled transport and client, with per-phase timeouts
transport.py    an httpx transport over aiohttp's pool (less CPU per request)
stream_usage.py streams always ask the engine for usage; hidden from clients that did not
"""
