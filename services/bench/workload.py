"""What a benchmark sends: the target, the steps, length distributions and request bodies.

Lengths are drawn from a `Distribution` written as text: `128` (fixed), `uniform:32:256`
(inclusive), `normal:128:32` (mean:sd, rounded, at least 1). Prompts are random common English
words, each about one token in BPE tokenizers (and exactly one in the fake engine's), drawn
afresh per request so an engine's prefix cache cannot make repeated prompts free.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Literal

Endpoint = Literal["chat", "completions"]

# Common English words: about one token each (with their leading space) in BPE tokenizers.
_WORD_TEXT = (
    "time year people way day man thing woman life child world school state family student "
    "group country problem hand part place case week company system program question work "
    "government number night point home water room mother area money story fact month lot right "
    "study book eye job word business issue side kind head house service friend father power "
    "hour game line end member law car city community name president team minute idea kid body "
    "information back parent face others level office door health person art war history party "
    "result change morning reason research girl guy moment air teacher force education foot boy "
    "age policy music market sense nation plan college interest death experience effect class "
    "control care field development role effort rate heart drug show leader light voice wife "
    "police mind price report decision son view relationship town road"
)
_WORDS: tuple[str, ...] = tuple(_WORD_TEXT.split())


class SpecError(ValueError):
    """A benchmark option that does not make sense; the message says how to write it."""


@dataclass(frozen=True, slots=True)
class Distribution:
    kind: Literal["fixed", "uniform", "normal"]
    a: float
    b: float = 0.0

    @classmethod
    def parse(cls, text: str) -> Distribution:
        parts = text.strip().lower().split(":")
        try:
            if len(parts) == 1:
                return cls._checked("fixed", float(parts[0]))
            if len(parts) == 2 and parts[0] == "fixed":
                return cls._checked("fixed", float(parts[1]))
            if len(parts) == 3 and parts[0] in ("uniform", "normal"):
                return cls._checked(parts[0], float(parts[1]), float(parts[2]))  # type: ignore[arg-type]
        except ValueError:
            pass
        raise SpecError(
            f"cannot read length {text!r}: write N (fixed), uniform:MIN:MAX or normal:MEAN:SD"
        )

    @classmethod
    def _checked(
        cls, kind: Literal["fixed", "uniform", "normal"], a: float, b: float = 0.0
    ) -> Distribution:
        if a < 1 or (kind == "uniform" and b < a) or (kind == "normal" and b < 0):
            raise ValueError
        return cls(kind, a, b)

    def sample(self, rng: random.Random) -> int:
        if self.kind == "fixed":
            return int(self.a)
        if self.kind == "uniform":
            return rng.randint(int(self.a), int(self.b))
        return max(1, round(rng.gauss(self.a, self.b)))

    def mean(self) -> float:
        return (self.a + self.b) / 2 if self.kind == "uniform" else self.a

    def __str__(self) -> str:
        if self.kind == "fixed":
            return str(int(self.a))
        return f"{self.kind}:{self.a:g}:{self.b:g}"


@dataclass(frozen=True, slots=True)
class Step:
    """One point of a sweep: a closed loop of `concurrency` workers, or Poisson arrivals at `rate`."""

    concurrency: int | None = None
    rate: float | None = None
    max_concurrency: int | None = None  # a cap on requests in flight in rate mode

    @property
    def label(self) -> str:
        return f"c={self.concurrency}" if self.rate is None else f"{self.rate:g} req/s"


@dataclass(frozen=True)
class BenchSpec:
    """Everything a run needs. `api_key` is never written anywhere (see `public_dict`)."""

    base_url: str
    model: str
    steps: tuple[Step, ...]
    endpoint: Endpoint = "chat"
    stream: bool = True
    prompt_tokens: Distribution = field(default_factory=lambda: Distribution("fixed", 128))
    output_tokens: Distribution = field(default_factory=lambda: Distribution("fixed", 128))
    ignore_eos: bool = False
    requests: int | None = None  # per step; None = until `duration_s`
    duration_s: float | None = None  # per step; None = until `requests`
    warmup: int | None = None  # per step, unmeasured; None = one per worker
    timeout_s: float = 300.0
    processes: int = 1
    seed: int = 0
    api_key: str | None = field(default=None, repr=False)
    headers: tuple[tuple[str, str], ...] = ()
    label: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "base_url", str(self.base_url))  # plain str: it is pickled
        if not self.steps:
            raise SpecError("give at least one concurrency or rate")
        if self.requests is None and self.duration_s is None:
            raise SpecError("bound each step with --requests, --duration or both")
        if self.requests is not None and self.requests < 1:
            raise SpecError("--requests must be at least 1")
        if self.duration_s is not None and self.duration_s <= 0:
            raise SpecError("--duration must be positive")
        if self.processes < 1:
            raise SpecError("--processes must be at least 1")
        for step in self.steps:
            if step.concurrency is not None and step.concurrency < 1:
                raise SpecError("concurrency must be at least 1")
            if step.rate is not None and step.rate <= 0:
                raise SpecError("rate must be positive")
            if step.concurrency is not None and step.concurrency < self.processes:
                raise SpecError(
                    f"concurrency {step.concurrency} is below --processes {self.processes}: "
                    "each process needs at least one worker"
                )

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.endpoint == "chat" else "/v1/completions"

    def public_dict(self) -> dict[str, object]:
        """The spec as results record it: no key, and headers by name only."""
        return {
            "base_url": self.base_url,
            "model": self.model,
            "endpoint": self.endpoint,
            "stream": self.stream,
            "prompt_tokens": str(self.prompt_tokens),
            "output_tokens": str(self.output_tokens),
            "ignore_eos": self.ignore_eos,
            "requests_per_step": self.requests,
            "duration_s_per_step": self.duration_s,
            "warmup_per_step": self.warmup,
            "timeout_s": self.timeout_s,
            "processes": self.processes,
            "seed": self.seed,
            "api_key": "set" if self.api_key else None,
            "extra_headers": [name for name, _value in self.headers],
        }


def parse_steps(
    concurrency: str | None, rate: str | None, max_concurrency: int | None = None
) -> tuple[Step, ...]:
    """`--concurrency 1,4,16` is a closed-loop sweep; `--rate 2,8` a Poisson-arrival sweep."""
    if concurrency and rate:
        raise SpecError("give --concurrency or --rate, not both (--max-concurrency caps a rate)")
    try:
        if rate:
            return tuple(Step(rate=float(r), max_concurrency=max_concurrency) for r in _items(rate))
        return tuple(Step(concurrency=int(c)) for c in _items(concurrency or "1"))
    except ValueError:
        raise SpecError(
            "write --concurrency as whole numbers and --rate as numbers, comma-separated"
        ) from None


def _items(text: str) -> list[str]:
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError
    return items


class BodyFactory:
    """Builds each request's JSON body; a seeded generator per process keeps runs repeatable."""

    def __init__(self, spec: BenchSpec, stream_seed: int) -> None:
        self._spec = spec
        self._rng = random.Random(spec.seed * 1_000_003 + stream_seed)  # noqa: S311 (load shape, not secrets)

    def prompt(self, words: int) -> str:
        choice = self._rng.choice
        return " ".join(choice(_WORDS) for _ in range(words))

    def next(self) -> bytes:
        spec = self._spec
        text = self.prompt(spec.prompt_tokens.sample(self._rng))
        body: dict[str, object] = {
            "model": spec.model,
            "max_tokens": spec.output_tokens.sample(self._rng),
        }
        if spec.endpoint == "chat":
            body["messages"] = [{"role": "user", "content": text}]
        else:
            body["prompt"] = text
        if spec.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        if spec.ignore_eos:
            body["ignore_eos"] = True
        return json.dumps(body, separators=(",", ":")).encode()
