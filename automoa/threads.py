"""How many threads one automoa worker may use.

Several workers on one machine (``automoa search --workers N``) each get a share of the cores
through ``AUTOMOA_WORKER_THREADS``; torch, xgboost and BLAS read it from here, so the workers do
not oversubscribe the CPU (measured: a 2-thread torch fit runs ~25x slower when another
process competes for its cores).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

THREADS_ENV = "AUTOMOA_WORKER_THREADS"
#: Thread-count variables of the native libraries, set for each worker process.
NATIVE_THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


def available_cores() -> int:
    """Cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


def worker_threads() -> int:
    """Threads for one worker: ``$AUTOMOA_WORKER_THREADS``, else the cores this process may use."""
    value = os.environ.get(THREADS_ENV, "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return available_cores()


def worker_environment(n_workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment variables giving one of ``n_workers`` workers its share of the cores."""
    share = max(1, (cores or available_cores()) // max(1, n_workers))
    return {THREADS_ENV: str(share), **{name: str(share) for name in NATIVE_THREAD_VARIABLES}}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables inside the block (processes started there inherit them)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def thread_limit(threads: int) -> contextlib.AbstractContextManager[None]:
    """automoa's fits, BLAS and OpenMP use ``threads`` threads inside the block."""
    return environment({name: str(threads) for name in (THREADS_ENV, *NATIVE_THREAD_VARIABLES)})


#: Resident memory one worker process needs, at least (measured about 260 MB: Python, torch,
#: Optuna, the data), for the check of ``--workers`` against free memory.
WORKER_MEMORY_BYTES = 300 * 2**20


def available_memory_bytes() -> int | None:
    """Memory available for new processes (``MemAvailable``), or ``None`` where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def check_workers(workers: object, oversubscribe: bool = False) -> int:
    """``--workers``: at least 1, at most the cores (unless ``oversubscribe``), and never more
    processes than the free memory holds.

    Raises:
        ConfigError: naming the limit that was crossed.
    """
    from automoa.exceptions import ConfigError

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"--workers: expected an integer of at least 1, got {workers!r}")
    cores = available_cores()
    if workers > cores and not oversubscribe:
        raise ConfigError(
            f"--workers {workers}: this machine gives automoa {cores} cores; expected at most "
            f"{cores} (pass --oversubscribe to run more worker processes than cores)"
        )
    free = available_memory_bytes()
    if free is not None and workers * WORKER_MEMORY_BYTES > free:
        raise ConfigError(
            f"--workers {workers}: each worker needs about {WORKER_MEMORY_BYTES >> 20} MB and "
            f"{free >> 20} MB are free; expected at most {max(1, free // WORKER_MEMORY_BYTES)}"
        )
    return workers
