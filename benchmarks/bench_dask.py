"""``hepattn match --dask`` throughput (issue 27): the same files matched by a LocalCluster of 1
and of 2 single-threaded worker processes, in one run.

    python benchmarks/bench_dask.py [--files 8] [--events 10000]

The inputs are the shipped all-hadronic sample cut into ``--files`` files; each run starts
its cluster and loads the model on every worker first (not timed; ``model_load_s``), then
times the jobs from submission to the last output written (``seconds_per_file``: the time a
worker spends per file, scheduling included). Writes
``benchmarks/results/dask.json``: ``files``, ``events``, ``workers: {"1": {"events_per_s",
"seconds"}, "2": {...}}``, ``speedup_2``, ``model_loads_per_worker`` (the most any worker
loaded), ``peak_rss_mb_per_worker`` (the largest resident set of a worker, which the chunked
reading bounds as in one process) and the machine's CPU count (a 2-worker speedup needs two
free cores).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _warm() -> float:
    """Load the bundled matcher on this worker (cached for its jobs); the seconds it took."""
    t0 = time.perf_counter()
    from hepattn.api import load

    load("matcher", "default", None)
    return time.perf_counter() - t0


def _split(n_files: int, n_events: int, out: Path) -> list[Path]:
    import sys

    sys.path.insert(0, str(ROOT))
    from tests.tasks.test_matching_task import slice_file

    per = n_events // n_files
    return [slice_file(out / f"in{i}.root", i * per, (i + 1) * per) for i in range(n_files)]


def main() -> None:
    import distributed

    from hepattn.cli import build_parser
    from hepattn.cli.match import _match_job
    from hepattn.tasks.dask_jobs import run_jobs
    from hepattn.tasks.friends import per_input_outputs

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--events", type=int, default=10_000)
    args = p.parse_args()
    out: dict = {"files": args.files, "events": args.events, "workers": {}}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = _split(args.files, args.events, tmp)
        loads, rss = [], []
        for n in (1, 2):
            dest = tmp / f"out{n}"
            argv = ["match", *map(str, files), "--output-dir", str(dest), "--no-progress"]
            cli = build_parser().parse_args(argv)
            jobs = per_input_outputs([str(f) for f in files], dest)
            dest.mkdir()
            with distributed.LocalCluster(
                n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                with distributed.Client(cluster) as client:
                    load_s = max(client.run(_warm).values())  # not timed below
                work = functools.partial(_match_job, cli, None)
                t0 = time.perf_counter()
                results, failed, worker_loads = run_jobs(cluster.scheduler_address, work, jobs)
                seconds = time.perf_counter() - t0
                with distributed.Client(cluster) as client:
                    rss += list(client.run(_peak_rss_mb).values())
            if failed:
                raise SystemExit(f"jobs failed: {failed}")
            loads += list(worker_loads.values())
            events = sum(r["events"] for r in results)
            out["workers"][str(n)] = {
                "events_per_s": events / seconds,
                "seconds": seconds,
                "model_load_s": load_s,
                "seconds_per_file": seconds * n / len(files),
            }
            print(n, "workers:", round(events / seconds), "events/s")
    w = out["workers"]
    out["speedup_2"] = w["2"]["events_per_s"] / w["1"]["events_per_s"]
    out["model_loads_per_worker"] = max(loads)
    out["peak_rss_mb_per_worker"] = max(rss)
    out["cpus"] = os.cpu_count()
    (RESULTS / "dask.json").write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
