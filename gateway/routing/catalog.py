"""Which engine serves which model, built from the model lists the health monitor keeps.

The index (model -> engines) is rebuilt only when some engine's list changed (the pool's
`models_version`), never per request. An engine whose list is not known yet (it has not
answered since the gateway started) may serve anything: it stays a candidate for every model,
so a request is never refused only because discovery has not run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import msgspec

from gateway.proxy.upstreams import Upstream, UpstreamPool


class ModelCatalog:
    def __init__(self, pool: UpstreamPool, aliases: Mapping[str, str]) -> None:
        self._pool = pool
        self.aliases = aliases
        self._version = -1
        self._index: dict[str, tuple[Upstream, ...]] = {}
        self._undiscovered: tuple[Upstream, ...] = ()

    def engine_model(self, model: str) -> str:
        """The name the engines know `model` by (an alias resolved; anything else as is)."""
        return self.aliases.get(model, model)

    def _current(self) -> dict[str, tuple[Upstream, ...]]:
        pool = self._pool
        # The pool bumps the version on every change of a list, a first discovery included.
        if pool.models_version != self._version:
            index: dict[str, list[Upstream]] = {}
            for upstream in pool.upstreams:
                for model in upstream.models:
                    index.setdefault(model, []).append(upstream)
            self._index = {model: tuple(found) for model, found in index.items()}
            self._undiscovered = tuple(u for u in pool.upstreams if u.models_at is None)
            self._version = pool.models_version
        return self._index

    def upstreams_for(self, model: str) -> tuple[Upstream, ...]:
        """Engines that list `model`, then those whose list is not known yet."""
        listed = self._current().get(model, ())
        return listed + self._undiscovered if self._undiscovered else listed

    def upstreams_any(self) -> tuple[Upstream, ...]:
        return self._pool.upstreams

    def is_unknown(self, model: str) -> bool:
        """True only when every engine's list is known and none has `model`: a sure 404."""
        return model not in self._current() and not self._undiscovered

    def models_document(self, may_use: Callable[[str], bool]) -> bytes | None:
        """OpenAI's model list over every engine, aliases included, only what `may_use` allows;
        None while no engine's list is known (the proxy then asks an engine)."""
        cards: dict[str, dict[str, object]] = {}
        for upstream in self._pool.upstreams:
            for card in upstream.model_cards:
                cards.setdefault(str(card["id"]), card)  # the same model on two engines: once
        if not cards:
            return None
        data = [card for model, card in cards.items() if may_use(model)]
        for alias, target in self.aliases.items():
            found = cards.get(target)
            if found is not None and alias not in cards and may_use(alias):
                # An alias looks like its model (max_model_len, root), under its own name.
                data.append({**found, "id": alias, "root": target, "owned_by": "tollgate"})
        return msgspec.json.encode({"object": "list", "data": data})
