"""Per-input jobs of ``hepattn tag`` / ``hepattn match`` run by Dask workers (``--dask``).

With ``--output-dir`` every input file is one job (:func:`hepattn.tasks.friends.friend_jobs`):
read chunk by chunk, its answers written atomically to its own output. :func:`run_jobs` hands
those jobs to a Dask cluster — ``--dask ADDRESS`` (a running scheduler, e.g. one that
dask-jobqueue started on a batch system) or ``--dask local:N`` (a ``distributed.LocalCluster``
of N single-threaded worker processes started here) — one task per job; no home-made
scheduling. A task carries the command's options and the model's *path*: a worker loads the
model once (:func:`hepattn.api.load`'s per-process cache) for all the jobs it runs.

Failures: a job that fails (a corrupt input) leaves no output of its own (the writer renames
a complete file into place only) while the other jobs complete; the command then names it in
one error line, or, with ``--skip-bad``, lists the inputs it skipped. A worker that dies is
replaced and its job rerun by Dask (``retries``); since outputs appear only when complete, a
rerun job writes the same file.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from hepattn.errors import DataError

__all__ = ["cluster_client", "run_jobs"]

log = logging.getLogger(__name__)

#: Times a job is rerun when its worker dies (Dask's task retries).
RETRIES = 2


@contextlib.contextmanager
def cluster_client(address: str) -> Iterator[Any]:
    """A ``distributed.Client`` of ``address``: ``local:N`` starts a LocalCluster of N
    single-threaded worker processes for the duration; anything else is a scheduler
    address (``tcp://host:8786``)."""
    from hepattn._optional import require

    distributed = require("distributed", "--dask")
    if address.startswith("local:"):
        text = address.removeprefix("local:")
        if not text.isdigit() or int(text) < 1:
            raise DataError(f"--dask local:N needs a number of workers N >= 1, got {address!r}")
        with (
            distributed.LocalCluster(
                n_workers=int(text),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            yield client
        return
    try:
        client = distributed.Client(address, timeout="20s")
    except (OSError, TimeoutError) as err:
        raise DataError(f"--dask {address}: no Dask scheduler answers there ({err})") from None
    with client:
        yield client


def _model_loads() -> int:
    """Models this worker process has loaded (:func:`hepattn.api.load`'s cache misses)."""
    from hepattn.api import _load

    return _load.cache_info().misses


def run_jobs(
    address: str,
    work: Callable[[Any], Any],
    jobs: Sequence[tuple[Any, Any]],
    progress: bool = False,
) -> tuple[list[Any], list[tuple[Any, str]], dict[str, int]]:
    """``work(job)`` for every ``(inputs, output)`` job on the cluster of ``address``;
    returns the results of the jobs that succeeded (in job order), ``(job, reason)`` of
    those that failed, and the models each worker loaded (by worker address)."""
    from hepattn.progress import bar

    with cluster_client(address) as client:
        from distributed import as_completed

        futures = [
            client.submit(work, job, key=f"hepattn-job-{i}", pure=False, retries=RETRIES)
            for i, job in enumerate(jobs)
        ]
        index = {f.key: i for i, f in enumerate(futures)}
        results: dict[int, Any] = {}
        failed: list[tuple[int, str]] = []
        with bar(progress, len(futures), "files", "files") as b:
            for future in as_completed(futures):
                i = index[future.key]
                if future.status == "error":
                    err = future.exception()
                    failed.append((i, str(err).splitlines()[0] if str(err) else repr(err)))
                else:
                    results[i] = future.result()
                b.update(1)
        loads = client.run(_model_loads)
    ok = [results[i] for i in sorted(results)]
    log.info("Dask: %d workers, models loaded per worker: %s", len(loads), sorted(loads.values()))
    return ok, [(jobs[i], reason) for i, reason in sorted(failed)], loads
