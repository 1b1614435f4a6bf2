"""Child processes that never outlive their parent: start, tee output, wait for HTTP, stop.

Each child runs in its own process group (so a stop reaches the workers it spawns, such as
vLLM's engine core) and gets SIGTERM if the parent dies without cleaning up (Linux
PR_SET_PDEATHSIG), so no orphan is left behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import IO

import httpx

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: ask the kernel for SIGTERM when we lose the parent."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class ManagedProcess:
    """A supervised child: its output is echoed with a prefix and its last lines are kept."""

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        env: Mapping[str, str] | None = None,
        *,
        keep_lines: int = 60,
        echo: IO[str] | None = sys.stderr,
        prefix: str | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.env = dict(env) if env is not None else dict(os.environ)
        self.tail: deque[str] = deque(maxlen=keep_lines)
        self._echo = echo
        self._prefix = prefix if prefix is not None else f"[{name}] "
        self._proc: subprocess.Popen[str] | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> ManagedProcess:
        self._proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._pump = threading.Thread(
            target=self._pump_output, name=f"{self.name}-out", daemon=True
        )
        self._pump.start()
        return self

    def _pump_output(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self.tail.append(line.rstrip("\n"))
            if self._echo is not None:
                with contextlib.suppress(ValueError, OSError):
                    self._echo.write(f"{self._prefix}{line}")
                    self._echo.flush()

    def poll(self) -> int | None:
        return self._proc.poll() if self._proc else None

    def wait(self, timeout: float | None = None) -> int:
        assert self._proc is not None
        code = self._proc.wait(timeout)
        if self._pump is not None:
            self._pump.join(timeout=2)
        return code

    def last_lines(self, count: int = 40) -> str:
        return "\n".join(list(self.tail)[-count:])

    def send_signal(self, sig: int) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def stop(self, grace_s: float = 20.0) -> int | None:
        """SIGTERM the whole group, then SIGKILL whatever is left after `grace_s`."""
        if self._proc is None:
            return None
        if self._proc.poll() is None:
            self.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.send_signal(signal.SIGKILL)
                self._proc.wait(5)
        # Children of the group may outlive the leader (e.g. vLLM's engine core): sweep them.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        if self._pump is not None:
            self._pump.join(timeout=2)
        return self._proc.returncode


class ProcessExited(RuntimeError):
    """The child exited before it became ready."""

    def __init__(self, process: ManagedProcess, code: int) -> None:
        super().__init__(f"{process.name} exited with code {code} before it was ready")
        self.process = process
        self.code = code


class ReadyTimeout(TimeoutError):
    """The child did not become ready in time."""


def wait_until_ready(
    url: str,
    process: ManagedProcess | None,
    timeout_s: float,
    *,
    interval_s: float = 0.5,
    on_tick: Callable[[float], None] | None = None,
) -> float:
    """Poll `url` until it answers 200; returns the seconds it took.

    Raises `ProcessExited` as soon as the child dies and `ReadyTimeout` after `timeout_s`.
    """
    started = time.monotonic()
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            elapsed = time.monotonic() - started
            if process is not None and (code := process.poll()) is not None:
                raise ProcessExited(process, code)
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return elapsed
            if elapsed > timeout_s:
                raise ReadyTimeout(f"{url} did not answer within {timeout_s:.0f} s")
            if on_tick is not None:
                on_tick(elapsed)
            time.sleep(interval_s)
