"""Optuna storages for automoa studies: SQLite, PostgreSQL (or any RDB URL), journal files.

- ``sqlite:///PATH`` (the default, in the work directory): one machine.
- ``postgresql://...`` / ``postgresql+psycopg2://...`` (or another SQLAlchemy URL Optuna
  supports): many workers on many machines; needs ``psycopg2`` (``automoa[postgresql]``).
- ``journal:///PATH``: Optuna's journal file storage, the no-server alternative on a shared file
  system (append-only log with file locks).

RDB storages get heartbeats: a worker records one every ``HEARTBEAT_SECONDS`` while a trial
runs, and a trial whose worker stopped beating for ``GRACE_SECONDS`` (killed, machine lost) is
failed by the next worker that looks, then re-queued with the same parameters
(:class:`optuna.storages.RetryHeartbeatStaleTrialCallback`). Optuna's journal storage has no
heartbeats: there a killed worker's trial stays RUNNING.

Two processes opening a fresh database at the same moment race on creating its tables
(``alembic_version`` / ``pg_type`` unique violations); :func:`make_storage` retries that.
"""

from __future__ import annotations

import contextlib
import copy
import os
import random
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import optuna
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import TrialState

from automoa.exceptions import ConfigError, StudyError, check_directory_path
from automoa.search.owner import describe, owner_dead
from automoa.search.record import TrialRecord

JOURNAL_PREFIX = "journal:///"
SQLITE_PREFIX = "sqlite:///"
#: Seconds between heartbeats of a running trial, and without one before it counts as dead.
#: The environment variables exist for tests that kill workers.
HEARTBEAT_SECONDS = int(os.environ.get("AUTOMOA_HEARTBEAT_SECONDS", "30"))
GRACE_SECONDS = int(os.environ.get("AUTOMOA_GRACE_SECONDS", str(4 * HEARTBEAT_SECONDS)))
#: A trial whose worker died is retried at most this many times.
MAX_RETRIES = 3
_CREATE_ATTEMPTS = 12


@contextlib.contextmanager
def _experimental_ok() -> Iterator[None]:
    """Silence Optuna's warning that heartbeats and retries are experimental (we rely on them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


def _rdb(url: str, **kwargs: object) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats, retrying the table-creation race of fresh databases."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(_CREATE_ATTEMPTS):
        try:
            with _experimental_ok():
                return optuna.storages.RDBStorage(
                    url,
                    heartbeat_interval=HEARTBEAT_SECONDS,
                    grace_period=GRACE_SECONDS,
                    heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES
                    ),
                    **kwargs,  # type: ignore[arg-type]
                )
        except DBAPIError as exc:
            # Another process is creating the same tables (unique violation) or holds the
            # SQLite write lock: wait a little and look again.
            if attempt == _CREATE_ATTEMPTS - 1:
                raise StudyError(f"storage {_redact(url)}: cannot be opened ({exc.orig})") from None
            time.sleep(0.2 + random.random() * 0.8)
    raise AssertionError("unreachable")  # pragma: no cover


def _redact(url: str) -> str:
    """The URL without a password (``user:secret@host`` -> ``user:***@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def _journal_path(url: str) -> Path:
    return Path("/" + url.removeprefix(JOURNAL_PREFIX).lstrip("/"))


def check_storage_url(url: str) -> None:
    """What can be checked of a storage URL without creating or connecting to anything: a
    supported scheme, its driver installed, a SQLite or journal file not under a file, an
    existing journal file that is one.

    Raises:
        StudyError: an unsupported URL or a missing database driver.
        ConfigError: a file path whose directory cannot be made (a file is in the way).
    """
    if url.startswith(SQLITE_PREFIX):
        check_directory_path(Path(url.removeprefix(SQLITE_PREFIX)).parent, "--storage")
        return
    if url.startswith(JOURNAL_PREFIX):
        path = _journal_path(url)
        check_directory_path(path.parent, "--storage")
        if path.is_dir() or (path.exists() and not path.is_file()):
            raise ConfigError(f"--storage {url}: {path} is not a regular file; expected a journal")
        if path.is_file():  # opening an existing journal reads, never writes
            _open_journal(url)
        return
    scheme = url.partition("://")[0]
    if scheme.startswith("postgresql"):
        try:
            import psycopg2  # noqa: F401
        except ImportError:
            raise StudyError(
                f"--storage {_redact(url)}: PostgreSQL needs the psycopg2 driver; install it "
                "with: pip install 'automoa[postgresql]'"
            ) from None
    if not scheme or not scheme.startswith(("postgresql", "mysql", "sqlite", "oracle", "mssql")):
        raise StudyError(
            f"--storage {_redact(url)}: unsupported storage URL; expected sqlite:///PATH, "
            "postgresql://USER@HOST:PORT/DB or journal:///PATH"
        )


def _open_journal(url: str) -> optuna.storages.BaseStorage:
    """The journal storage at ``url``'s path (created when missing).

    Raises:
        StudyError: the file is not an Optuna journal (its whole log is replayed on opening, so
            a file of another kind fails to parse).
    """
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    path = _journal_path(url)
    try:
        return JournalStorage(JournalFileBackend(str(path)))
    except (ValueError, KeyError, TypeError, IndexError, AssertionError) as exc:
        raise StudyError(
            f"--storage {url}: {path} is not an Optuna journal file ({type(exc).__name__}); "
            "expected a file written by a journal:/// study, or a new path"
        ) from None


def make_storage(url: str) -> optuna.storages.BaseStorage:
    """An Optuna storage for ``url``; a SQLite or journal file's directory is created if needed.

    Raises:
        StudyError: an unsupported URL, a database driver that is not installed, or a storage
            that cannot be reached.
    """
    check_storage_url(url)
    if url.startswith(SQLITE_PREFIX):
        Path(url.removeprefix(SQLITE_PREFIX)).parent.mkdir(parents=True, exist_ok=True)
        # A generous lock timeout: the status command may read while searches write.
        return _rdb(url, engine_kwargs={"connect_args": {"timeout": 60}})
    if url.startswith(JOURNAL_PREFIX):
        path = _journal_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        return _open_journal(url)
    try:
        return _rdb(url, engine_kwargs={"pool_pre_ping": True})
    except StudyError:
        raise
    except Exception as exc:  # SQLAlchemy: unreachable host, bad credentials, bad URL
        raise StudyError(f"--storage {_redact(url)}: cannot be opened ({exc})") from None


def storage_exists(url: str) -> bool:
    """Whether a file-backed storage's file exists (server storages: assumed to)."""
    if url.startswith(SQLITE_PREFIX):
        return Path(url.removeprefix(SQLITE_PREFIX)).exists()
    if url.startswith(JOURNAL_PREFIX):
        return _journal_path(url).exists()
    return True


def has_heartbeat(storage: optuna.storages.BaseStorage) -> bool:
    """Whether the storage records heartbeats (RDB storages made by :func:`make_storage`)."""
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    return isinstance(storage, BaseHeartbeat) and is_heartbeat_enabled(storage)


class Heartbeat:
    """Records a running trial's heartbeat every ``HEARTBEAT_SECONDS`` in a background thread.

    A no-op on storages without heartbeats. Use as a context manager around the trial's work.
    """

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        self.storage = storage
        self.trial_id = trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self.storage.record_heartbeat(self.trial_id)  # type: ignore[attr-defined]
            except Exception:  # a lost connection must not kill the trial; the next beat retries
                continue

    def __enter__(self) -> Heartbeat:
        if has_heartbeat(self.storage):
            self.storage.record_heartbeat(self.trial_id)  # type: ignore[attr-defined]
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def _requeue_orphans(study: optuna.Study) -> None:
    """Queue the retry of failed trials whose retry was lost with the worker queueing it.

    Optuna fails a stale trial, then its callback queues the retry: a worker killed between the
    two leaves a failed trial that nothing retries. Such a trial has no failure reason of ours
    (every failure automoa records has one), is in no retry's history, and failed more than a
    heartbeat ago (whoever failed it had the time to queue its retry).
    """
    callback = study._storage.get_heartbeat_stale_trial_callback()
    if callback is None:
        return
    trials = study.get_trials(deepcopy=False)
    replaced = {number for t in trials for number in t.system_attrs.get("retry_history", ())}
    now = datetime.now()
    for trial in trials:
        if trial.state != TrialState.FAIL or trial.number in replaced:
            continue
        if TrialRecord.read(trial).failure_reason is not None or trial.datetime_complete is None:
            continue
        if (now - trial.datetime_complete).total_seconds() > HEARTBEAT_SECONDS:
            callback(study, copy.deepcopy(trial))  # does nothing past MAX_RETRIES


def _fail_dead_owners(study: optuna.Study) -> None:
    """Fail at once the RUNNING trials whose owner process on this host has exited (``kill
    -9``): the heartbeat window is for workers on other hosts. Those that had been sampled are
    re-queued as they were (at most ``MAX_RETRIES`` times). Works on every storage, the journal
    file included."""
    with _experimental_ok():
        retry = RetryHeartbeatStaleTrialCallback(max_retry=MAX_RETRIES)
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = TrialRecord.read(trial).owner
        if not isinstance(owner, dict) or not owner_dead(owner):
            continue
        try:
            died = TrialRecord(failure_reason=f"its worker ({describe(owner)}) died")
            died.write_to_storage(study._storage, trial._trial_id)
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker failed it first
        if trial.params:  # sampled: retried with the same parameters
            retry(study, copy.deepcopy(trial))


def fail_dead_trials(study: optuna.Study) -> None:
    """Fail the trials whose worker died; those that had started are re-queued as they were.

    On this host a dead owner (:attr:`TrialRecord.owner`) is known at once. Elsewhere, heartbeats
    tell: a worker killed between creating a trial and its first heartbeat (while the sampler
    runs) leaves a RUNNING trial that Optuna never sees as stale: such a trial, older than the
    grace period and not even sampled yet (no ``family``), is failed here too (nothing to
    retry).
    """
    _fail_dead_owners(study)
    if not has_heartbeat(study._storage):
        return
    with _experimental_ok():
        optuna.storages.fail_stale_trials(study)
    _requeue_orphans(study)
    now = datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        started = trial.datetime_start
        if TrialRecord.read(trial).family is not None or started is None:
            continue
        if (now - started).total_seconds() > GRACE_SECONDS:
            with contextlib.suppress(optuna.exceptions.UpdateFinishedTrialError):
                died = TrialRecord(failure_reason="its worker died before sampling it")
                died.write_to_storage(study._storage, trial._trial_id)
                study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
