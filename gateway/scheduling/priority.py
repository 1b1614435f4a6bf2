"""vLLM's per-request `priority` from the request's tier (engines run `--scheduling-policy
priority`; lower runs earlier, and may preempt a later one).

The body is changed in place of re-encoding it: without a `priority` field the tier's value is
spliced in before the closing brace. A client's own `priority` is kept when it is the same or
later than its tier's (asking to run later is allowed), and raised to its tier's otherwise.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.proxy.bodies import with_member

# Routes whose vLLM request models take `priority`.
PRIORITY_ROUTES = frozenset(
    {"/v1/chat/completions", "/v1/completions", "/v1/responses", "/v1/embeddings"}
)


def with_priority(body: bytes, priority: int) -> bytes:
    if b'"priority"' not in body:
        return with_member(body, b'"priority":' + str(priority).encode())
    document: dict[str, Any] = msgspec.json.decode(body)
    asked = document.get("priority")
    if isinstance(asked, int) and not isinstance(asked, bool) and asked >= priority:
        return body
    document["priority"] = priority
    return msgspec.json.encode(document)
