"""What a fake engine is told: its start-up config, the controls that change at run time, faults.

`FakeEngineConfig` is fixed when the app is built; `Controls` starts as a copy of its pacing and
capacity and is what `POST /fake/control` changes, so a test in another process can flip a
running engine. A `Fault` is parsed once from its text form (`die-mid-stream:3`), from either
the `x-fake-fault` header or the controls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FaultKind = Literal[
    "status",
    "die-mid-stream",
    "error-mid-stream",
    "hang",
    "slow-first-byte",
    "close-before-headers",
]
FAULT_KINDS: tuple[str, ...] = FaultKind.__args__  # type: ignore[attr-defined]


class FaultSyntaxError(ValueError):
    """A fault string that does not parse; its message says what is accepted."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected failure. `arg` is the status code, the token count or the delay in ms."""

    kind: str
    arg: int | None = None

    @classmethod
    def parse(cls, text: str) -> Fault:
        name, _, raw = text.strip().lower().partition(":")
        if name.startswith("status-"):  # `status-503` reads better than `status:503`
            name, raw = "status", name.removeprefix("status-")
        if name not in FAULT_KINDS:
            raise FaultSyntaxError(
                f"unknown fault {text!r}; use one of status-<code>, die-mid-stream[:<tokens>], "
                "error-mid-stream[:<tokens>], hang, slow-first-byte:<ms>, close-before-headers"
            )
        arg: int | None = None
        if raw:
            try:
                arg = int(raw)
            except ValueError:
                raise FaultSyntaxError(f"fault {text!r}: {raw!r} is not a whole number") from None
            if arg < 0:
                raise FaultSyntaxError(f"fault {text!r}: the number must be >= 0")
        if name == "status" and (arg is None or not 400 <= arg <= 599):
            raise FaultSyntaxError(f"fault {text!r}: status needs a code from 400 to 599")
        if name == "slow-first-byte" and arg is None:
            raise FaultSyntaxError(f"fault {text!r}: slow-first-byte needs a delay, e.g. :500")
        if name in ("hang", "close-before-headers") and arg is not None:
            raise FaultSyntaxError(f"fault {text!r}: {name} takes no argument")
        return cls(name, arg)

    def __str__(self) -> str:
        if self.kind == "status":
            return f"status-{self.arg}"
        return self.kind if self.arg is None else f"{self.kind}:{self.arg}"


def _parsed_fault(value: str | None) -> str | None:
    """A fault spec must parse: a typo is refused where it is given, not met per request."""
    if value is not None:
        Fault.parse(value)
    return value


class FakeEngineConfig(BaseModel):
    """How a fake engine starts. Times in milliseconds; 0 means instant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    models: tuple[str, ...] = Field(
        default=("fake-model",), min_length=1, description="served model names, as vLLM's"
    )
    max_model_len: int = Field(default=2048, ge=16)
    ttft_ms: float = Field(default=0.0, ge=0, description="time to the first token")
    itl_ms: float = Field(default=0.0, ge=0, description="time between later tokens")
    output_tokens: int = Field(
        default=16, ge=1, description="answer length when a request sets no max_tokens"
    )
    capacity: int = Field(default=256, ge=1, description="requests generated at once")
    api_key: str | None = Field(default=None, description="like vLLM's --api-key")
    embedding_dim: int = Field(default=16, ge=1, le=8192)
    fault: str | None = Field(default=None, description="a fault applied to every request")

    _fault_parses = field_validator("fault")(_parsed_fault)


class ControlUpdate(BaseModel):
    """The body of `POST /fake/control`: only the fields given change (`"fault": null` clears)."""

    model_config = ConfigDict(extra="forbid")

    ttft_ms: float | None = Field(default=None, ge=0)
    itl_ms: float | None = Field(default=None, ge=0)
    output_tokens: int | None = Field(default=None, ge=1)
    capacity: int | None = Field(default=None, ge=1)
    fault: str | None = None
    fault_count: int | None = Field(default=None, ge=1)
    healthy: bool | None = None

    _fault_parses = field_validator("fault")(_parsed_fault)


@dataclass(slots=True)
class Controls:
    """The engine's run-time knobs. One event loop owns them, so no lock is needed."""

    ttft_ms: float
    itl_ms: float
    output_tokens: int
    capacity: int
    fault: Fault | None = None
    # Requests the global fault still applies to; None = until it is cleared.
    fault_count: int | None = None
    healthy: bool = True

    @classmethod
    def from_config(cls, config: FakeEngineConfig) -> Controls:
        return cls(
            ttft_ms=config.ttft_ms,
            itl_ms=config.itl_ms,
            output_tokens=config.output_tokens,
            capacity=config.capacity,
            fault=Fault.parse(config.fault) if config.fault else None,
        )

    def apply(self, update: ControlUpdate) -> None:
        given = update.model_fields_set
        for name in ("ttft_ms", "itl_ms", "output_tokens", "capacity", "healthy"):
            value = getattr(update, name)
            if name in given and value is not None:
                setattr(self, name, value)
        if "fault" in given:
            self.fault = Fault.parse(update.fault) if update.fault else None
            self.fault_count = update.fault_count
        elif "fault_count" in given:
            self.fault_count = update.fault_count

    def take_global_fault(self) -> Fault | None:
        """The global fault for one more request, counting it down when it is bounded."""
        fault = self.fault
        if fault is not None and self.fault_count is not None:
            self.fault_count -= 1
            if self.fault_count <= 0:
                self.fault, self.fault_count = None, None
        return fault

    def as_dict(self) -> dict[str, object]:
        return {
            "ttft_ms": self.ttft_ms,
            "itl_ms": self.itl_ms,
            "output_tokens": self.output_tokens,
            "capacity": self.capacity,
            "fault": str(self.fault) if self.fault else None,
            "fault_count": self.fault_count,
            "healthy": self.healthy,
        }
