"""Server-sent events, reduced to what OpenAI streams use: the `data` of each event."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator


async def iter_sse_data(lines: AsyncIterable[str]) -> AsyncIterator[str]:
    """Yield each event's data (several `data:` lines joined by newlines), per the SSE spec.

    Comments (`:` lines, used as keep-alives) and other fields (`event:`, `id:`) are skipped.
    """
    data: list[str] = []
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield "\n".join(data)
                data = []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
    if data:  # a stream cut without the final blank line still delivers its last event
        yield "\n".join(data)
