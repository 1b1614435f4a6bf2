"""The results file: what ran (exact command, machine, versions, times) and each step's numbers.

The API key never enters it: the command line is stored with the key's value masked and the
spec records only whether a key was set.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import socket
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from services.bench.workload import BenchSpec

FORMAT = "tollgate-bench/1"
_SECRET_FLAGS = ("--api-key",)
_SECRET_HEADERS = ("authorization", "x-api-key", "api-key")


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the file and the problem."""


def _mask_header(value: str) -> str:
    name, colon, _rest = value.partition(":")
    return f"{name}: ***" if colon and name.strip().lower() in _SECRET_HEADERS else value


def redact_argv(argv: Sequence[str]) -> list[str]:
    """The command line with secret values (the key, auth headers) replaced by `***`."""
    out: list[str] = []
    hide_next = header_next = False
    for arg in argv:
        if hide_next or header_next:
            out.append("***" if hide_next else _mask_header(arg))
            hide_next = header_next = False
            continue
        flag, eq, value = arg.partition("=")
        if flag in _SECRET_FLAGS:
            out.append(f"{flag}=***" if eq else arg)
            hide_next = not eq
        elif flag in ("--header", "-H"):
            out.append(f"{flag}={_mask_header(value)}" if eq else arg)
            header_next = not eq
        else:
            out.append(arg)
    return out


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def machine_info() -> dict[str, Any]:
    memory: float | None = None
    with contextlib.suppress(ValueError, OSError, AttributeError):
        memory = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "memory_gib": memory,
        "python": platform.python_version(),
    }


def versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in ("tollgate", "httpx", "uvloop", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def build_results(
    spec: BenchSpec,
    steps: list[dict[str, Any]],
    *,
    started_at: str,
    finished_at: str,
    argv: Sequence[str] | None = None,
) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "label": spec.label or spec.base_url,
        "command": " ".join(redact_argv(list(argv if argv is not None else sys.argv))),
        "started_at": started_at,
        "finished_at": finished_at,
        "machine": machine_info(),
        "versions": versions(),
        "spec": spec.public_dict(),
        "steps": steps,
    }


def save_results(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)  # never a half-written results file


def load_results(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{path}: not a readable JSON file ({exc})") from None
    if (
        not isinstance(data, dict)
        or data.get("format") != FORMAT
        or not isinstance(data.get("steps"), list)
    ):
        raise ResultsError(f"{path}: not a `tollgate bench run` results file ({FORMAT})")
    return data
