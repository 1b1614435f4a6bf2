"""`tollgate bench soak`, short: mixed traffic with faults, disconnects, bad bodies and wrong keys
against a real gateway process ends with every request answered as expected, one ledger row per
keyed request, bounded memory and no leaked slot. (The long run is in docs/reliability.md.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from services.bench.soak import LIMITED_SLOTS, SoakConfig, SoakResult


def test_a_short_soak_passes_every_check() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    command = [sys.executable, "-m", "services.cli", "bench", "soak", "--duration", "20"]
    done = subprocess.run(
        [*command, "--warmup", "3", "--concurrency", "24", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    result = json.loads(done.stdout)
    assert done.returncode == 0 and result["passed"], (result["problems"], done.stderr[-2000:])
    assert result["requests"] > 200
    statuses = result["by_status"]
    assert {"200", "400", "502", "503", "504"} <= set(statuses)  # the faults really happened
    assert result["by_kind"]["leave_stream"] and result["by_kind"]["bad_key"]
    assert result["ledger_rows"] == result["requests_with_key"]
    assert result["rss_growth"] < 0.10
    assert result["limited_slots_free"] == f"{LIMITED_SLOTS}/{LIMITED_SLOTS}"


def test_the_verdict_names_each_kind_of_trouble() -> None:
    result = SoakResult(SoakConfig(), with_key=10, ledger_rows=9, rss_before=100, rss_after=120)
    result.unexpected.append("chat: 500")
    result.upstream_in_flight_after = 1
    result.limited_slots_free = LIMITED_SLOTS - 1
    result.judge()
    assert not result.passed
    text = " | ".join(result.problems)
    for words in ("unexpected", "9 rows for 10", "memory grew 20.0%", "in flight", "3/4 slots"):
        assert words in text
