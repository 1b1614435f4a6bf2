"""prometheus_client's multiprocess mode for a gateway with several worker processes.

Each worker writes its values to memory-mapped files in PROMETHEUS_MULTIPROC_DIR and
`/metrics` (served by whichever worker the scrape reaches) adds them up. The launcher sets the
directory before the workers start, because prometheus_client reads the variable at import;
it must start empty, so a fresh temporary one is made (or a given one is emptied) and removed
when the gateway stops.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db")


def active_dir() -> Path | None:
    """The multiprocess directory of this process, or None in single-process mode."""
    value = os.environ.get(ENV) or os.environ.get(ENV.lower())
    return Path(value) if value else None


@contextlib.contextmanager
def multiprocess_directory() -> Iterator[Path]:
    """Set up (and afterwards remove) the directory for the workers this process starts."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):  # values of an earlier run would be added to ours
            stale.unlink(missing_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="tollgate-metrics-"))
    os.environ[ENV] = str(path)
    try:
        yield path
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def forget_dead_workers(directory: Path) -> None:
    """Drop the live gauges of workers that died without shutting down (a crash, a kill):
    their in-flight counts would otherwise stay in the sums for good."""
    from prometheus_client import multiprocess

    dead = {
        int(match.group(1))
        for file in directory.glob("gauge_live*.db")
        if (match := _LIVE_FILE.fullmatch(file.name)) is not None
    }
    for pid in dead:
        if not _alive(pid):
            multiprocess.mark_process_dead(pid, str(directory))


def worker_exiting(directory: Path) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(os.getpid(), str(directory))
