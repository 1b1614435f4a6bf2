"""Dependencies that hand a handler one part the composition root built (no lookup by name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar.di import Provide


def provide_part(part: object, *, missing: Callable[[], Exception] | None = None) -> Provide:
    """`Provide` for a part that exists already: every request gets the same object. When the
    app was built without it (`part` is None), each request raises `missing()` instead."""

    def the_part() -> Any:
        if part is None and missing is not None:
            raise missing()
        return part

    return Provide(the_part, sync_to_thread=False, use_cache=part is not None)
