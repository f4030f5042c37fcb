"""Scale-out on Dask: the same scan and batch verification, one task per package on a cluster.

Dask is an optional extra (``pip install 'msitools[dask]'``).  Tasks run
:func:`~msitools.library.scan.scan_task` (a package, or one cabinet of a big one) or a batch
entry on the workers and return plain records; the client writes them into the
catalog as they arrive, one transaction per package, so a task retried after a worker is lost
never leaves duplicate rows (a package's rows are replaced, not added to).  Workers need the
package files at the same paths (a shared folder) and msitools installed.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from msitools.errors import UsageError
from msitools.limits import DEFAULT_LIMITS, Limits

RETRIES = 3


class DaskExecutor:
    """Runs a function over items on a Dask cluster; results come back as they finish."""

    def __init__(self, address: str, workers: int = 2):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("Dask is not installed (pip install 'msitools[dask]')") from None
        self._cluster = None
        if address == "local":
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=50)
            self.client = Client(self._cluster)
        else:
            try:
                self.client = Client(address, timeout=30)
            except OSError as exc:
                raise UsageError(f"cannot reach the Dask scheduler: {exc}", address) from None

    def check_visible(self, path: str) -> None:
        """Refuse to start when a worker cannot see *path*: workers read the packages themselves, from a
        share mounted at the same path, and a blind worker would record every package as unreadable."""
        seen = self.client.run(os.path.exists, path)
        blind = sorted(worker for worker, ok in seen.items() if not ok)
        if blind:
            raise UsageError(f"{len(blind)} of {len(seen)} Dask worker(s) cannot see this file "
                             f"({', '.join(blind[:3])}{', ...' if len(blind) > 3 else ''}); workers must see "
                             "the share at the same path as this machine", path)

    def map(self, function: Callable[..., dict[str, Any]], items: list[Any], *args: Any) -> Iterator[dict[str, Any]]:
        from distributed import as_completed

        if not items:
            return
        futures = [self.client.submit(function, item, *args, key=f"msitools-{function.__name__}-{n}",
                                      retries=RETRIES, pure=False) for n, item in enumerate(items)]
        for future in as_completed(futures):
            yield future.result()
            future.release()

    def close(self) -> None:
        self.client.close()
        if self._cluster is not None:
            self._cluster.close()


class _ScanRunner:
    def __init__(self, executor: DaskExecutor, limits: Limits):
        self.executor = executor
        self.limits = limits

    def __call__(self, tasks: list[Any]) -> Iterator[dict[str, Any]]:
        from msitools.library.scan import scan_task

        if tasks:
            self.executor.check_visible(tasks[0][0])
        return self.executor.map(scan_task, tasks, self.limits)

    def close(self) -> None:
        self.executor.close()


def dask_executor(address: str, workers: int = 2, limits: Limits = DEFAULT_LIMITS) -> _ScanRunner:
    """A scan executor on Dask: *address* is ``tcp://HOST:8786`` or ``local`` (a LocalCluster of *workers*)."""
    return _ScanRunner(DaskExecutor(address, workers), limits)


def dask_batch_runner(executor: DaskExecutor) -> Callable[[list[dict[str, Any]]], Iterator[dict[str, Any]]]:
    """Run batch entries (:func:`~msitools.library.batch.verify_entry`) on *executor*'s cluster."""
    from msitools.library.batch import verify_entry

    def run(entries: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        present = next((e["hotfix"] for e in entries if os.path.exists(e["hotfix"])), None)
        if present is not None:
            executor.check_visible(present)
        return executor.map(verify_entry, entries)

    return run
