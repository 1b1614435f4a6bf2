"""`tollgate bench`: a load generator for OpenAI-compatible endpoints, and its results.

    spec = BenchSpec(base_url, model, steps=parse_steps("1,4,16", None), requests=200)
    results = run_benchmark(spec, emit)         # a JSON-ready dict (results.FORMAT)
    save_results(results, Path("a.json")); plot_results([results], Path("a.png"))
    compare_results(load_results(a), load_results(b))   # B vs A per load

Each step is a closed loop of N workers (`--concurrency`) or Poisson arrivals (`--rate`),
bounded by a request count and/or a duration, optionally split over several client processes.
Modules: `workload` (spec, distributions, bodies), `client` (one measured request),
`runner` (steps, processes), `summary` (percentiles), `results` (the file), `compare`,
`plots`.
"""

from services.bench.compare import compare_results
from services.bench.plots import plot_results
from services.bench.results import ResultsError, load_results, save_results
from services.bench.run import run_benchmark
from services.bench.runner import BenchError
from services.bench.workload import BenchSpec, Distribution, SpecError, Step, parse_steps

__all__ = [
    "BenchError",
    "BenchSpec",
    "Distribution",
    "ResultsError",
    "SpecError",
    "Step",
    "compare_results",
    "load_results",
    "parse_steps",
    "plot_results",
    "run_benchmark",
    "save_results",
]
