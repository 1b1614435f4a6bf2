"""Which headers cross the gateway, in either direction.

The gateway is a trust boundary: the client's credentials stay here, and nothing about one
TCP hop (hop-by-hop headers, RFC 9110 §7.6.1) is forwarded to the next. Header names in ASGI
scopes are lower-case bytes already, so every check is one frozenset lookup on the hot path.
"""

from __future__ import annotations

from collections.abc import Iterable

RawHeaders = list[tuple[bytes, bytes]]

REQUEST_ID = b"x-request-id"
# On every proxied response: the gateway's own time in ms (queueing included, the engine's
# time not); for a stream, up to its headers.
OVERHEAD = b"x-tollgate-overhead-ms"
# The UI's shared secret (settings.ui_token): it lets the UI's chats raise their tier
# (gateway/scheduling/tiers.py); a credential of the gateway's, so it never reaches the engine.
UI_TOKEN = b"x-tollgate-ui-token"

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
    }
)

# Client headers that never reach the engine: the gateway's own credentials (every shape an
# SDK may send them in), cookies, framing that httpx sets itself, our own request id (sent
# separately), and forwarding claims a client could forge.
_NOT_FORWARDED_UPSTREAM = HOP_BY_HOP | {
    b"authorization",
    b"x-api-key",
    b"api-key",
    b"cookie",
    UI_TOKEN,
    b"x-tollgate-tier",  # the gateway's scheduling; the engine gets `priority` in the body
    b"host",
    b"content-length",
    b"accept-encoding",
    b"expect",
    REQUEST_ID,
    b"forwarded",
    b"x-forwarded-for",
    b"x-forwarded-host",
    b"x-forwarded-proto",
    b"x-real-ip",
}

# Engine headers the client does not get: framing (recomputed by our server), the engine's
# server/date (ours are added), and any request id of the engine's (ours is the one).
_NOT_RETURNED_DOWNSTREAM = HOP_BY_HOP | {
    b"content-length",
    b"server",
    b"date",
    REQUEST_ID,
    b"set-cookie",
}

# The engine's answers are never compressed, so usage can be read from them; see upstream_headers.
_IDENTITY = (b"accept-encoding", b"identity")

# Added to every response the gateway sends.
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = ((b"x-content-type-options", b"nosniff"),)


def upstream_headers(
    client_headers: Iterable[tuple[bytes, bytes]],
    request_id: bytes,
    engine_authorization: bytes | None,
) -> RawHeaders:
    """The headers sent to the engine: the client's, minus credentials and hop-by-hop ones."""
    drop = _NOT_FORWARDED_UPSTREAM
    for name, value in client_headers:
        if name == b"connection":
            # Names a Connection header lists are hop-by-hop for this message too.
            drop = drop | {t.strip().lower() for t in value.split(b",")}
    out: RawHeaders = [(REQUEST_ID, request_id), _IDENTITY]
    out.extend(header for header in client_headers if header[0] not in drop)
    if engine_authorization is not None:
        out.append((b"authorization", engine_authorization))
    return out


def downstream_headers(engine_headers: Iterable[tuple[bytes, bytes]]) -> tuple[RawHeaders, bytes]:
    """The engine's response headers the client may see (names lower-cased for ASGI), and the
    content type (read in the same pass: it decides between relaying a stream and a body)."""
    out: RawHeaders = []
    content_type = b""
    for name, value in engine_headers:
        lower = name.lower()
        if lower not in _NOT_RETURNED_DOWNSTREAM:
            out.append((lower, value))
            if lower == b"content-type":
                content_type = value
    return out, content_type
