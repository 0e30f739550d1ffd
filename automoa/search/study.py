"""Where a study lives, and the facts fixed when it is created (data, folds, space, prior).

A study is created once; every later run loads it, refuses data it was not created on and a
changed search space, and reuses its stored folds so all trials stay aligned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from automoa._version import __version__
from automoa.config import PipelineConfig
from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import ConfigError, StudyError, check_directory_path
from automoa.folds import make_folds
from automoa.metrics import METRIC_CONVENTION
from automoa.search.artifact_store import StudyArtifacts, object_store_scheme
from automoa.search.objective import evaluate
from automoa.search.owner import describe, owner_dead, this_process
from automoa.search.storage import make_storage, storage_exists
from automoa.spaces import SearchSpace, space_changes

DEFAULT_WORKDIR = Path("automoa-work")
DB_FILENAME = "automoa.db"
ARTIFACTS_DIRNAME = "artifacts"
CACHE_DIRNAME = "cache"
PRIOR_CONFIG = PipelineConfig("prior", {"smoothing": 1.0})
_META_KEY = "automoa"  # study user attribute holding the creation facts
_CREATING_KEY = "automoa_creating"  # set while the first worker computes them
_RUN_PREFIX = "automoa_run:"
#: Study attribute recording where the study's data was loaded from (so that export and report
#: find it without --data).
DATA_ATTR = "automoa_data"  # one attribute per search invocation (see record_run)
#: The worker setting a study up re-writes its marker this often; a marker silent for
#: ``CREATION_STALE_SECONDS`` is from a worker that died (on the same host, a dead pid is
#: known at once).
CREATION_BEAT_SECONDS = 2.0
CREATION_STALE_SECONDS = 30.0
#: A wait for another worker's set-up says what it waits for after this many seconds.
WAIT_NOTICE_SECONDS = 3.0
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StudyLocation:
    """The storage URL, study name and artifact store of a study.

    ``artifacts`` is an absolute directory or an object-store URL
    (:mod:`automoa.search.artifact_store`); ``cache_dir`` is this machine's cache.
    """

    storage: str
    study_name: str
    artifacts: str
    cache_dir: Path

    def open_artifacts(self) -> StudyArtifacts:
        """The study's artifact store, with local access to its files."""
        return StudyArtifacts(self.artifacts, self.cache_dir)


@dataclass(frozen=True)
class SearchRun:
    """One ``automoa search`` invocation on a study (one per worker machine or process)."""

    started: str  # ISO 8601, UTC
    budget_seconds: float
    seconds: float  # wall time, ensemble included
    stopped_by: str  # "budget", "trials", "interrupted"
    workers: int
    trials_run: int


def record_run(study: optuna.Study, run: SearchRun) -> None:
    """Store ``run`` with the study (its own attribute: concurrent workers never collide)."""
    key = f"{_RUN_PREFIX}{run.started}:{socket.gethostname()}:{os.getpid()}"
    study.set_user_attr(key, asdict(run))


def search_runs(study: optuna.Study) -> list[SearchRun]:
    """The study's recorded search invocations, oldest first."""
    runs = [
        SearchRun(**value)
        for key, value in study.user_attrs.items()
        if key.startswith(_RUN_PREFIX) and isinstance(value, dict)
    ]
    return sorted(runs, key=lambda run: run.started)


#: What a study name may be: it names files under the work directory, never a path.
STUDY_NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,63}")


def check_study_name(name: str, option: str = "--study") -> str:
    """Refuse a study name that is not 1-64 letters, digits, ``.``, ``_`` or ``-`` (not
    starting with ``.`` or ``-``): such a name could reach outside the work directory.

    Raises:
        ConfigError: naming ``option``.
    """
    if not isinstance(name, str) or not STUDY_NAME_PATTERN.fullmatch(name):
        raise ConfigError(
            f"{option}: expected 1-64 letters, digits, '.', '_' or '-', not starting with "
            f"'.' or '-' (got {name!r})"
        )
    return name


def study_name_for(data_name: str) -> str:
    """A default study name derived from the data's name (letters, digits, ``-``, ``_``)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", data_name).strip("-")[:64] or "automoa"


def resolve_location(
    study_name: str,
    workdir: str | Path | None = None,
    storage: str | None = None,
    artifacts: str | Path | None = None,
) -> StudyLocation:
    """Work out the storage URL and artifact directory from the command-line options.

    Args:
        study_name: the study.
        workdir: the run directory (default ``./automoa-work``); holds the SQLite file, the
            artifacts (unless ``storage`` / ``artifacts`` say otherwise) and the preprocessing
            cache.
        storage: an Optuna storage URL (``sqlite:///...``, ``postgresql://...``,
            ``journal:///...``; see :mod:`automoa.search.storage`).
        artifacts: the artifact directory or object-store URL (``s3://BUCKET/PREFIX``,
            ``gs://BUCKET/PREFIX``).

    Returns:
        The location.
    """
    workdir = Path(workdir) if workdir is not None else DEFAULT_WORKDIR
    check_directory_path(workdir, "--workdir")
    if storage is None:
        storage = f"sqlite:///{(workdir / DB_FILENAME).resolve()}"
    if artifacts is None:
        artifacts = workdir / ARTIFACTS_DIRNAME
    if object_store_scheme(artifacts) is None:
        check_directory_path(artifacts, "--artifacts")
        artifacts = Path(artifacts).resolve()
    return StudyLocation(storage, study_name, str(artifacts), (workdir / CACHE_DIRNAME).resolve())


@dataclass(frozen=True)
class StudyMeta:
    """Facts fixed at study creation (stored as one study user attribute)."""

    automoa_version: str
    data_name: str
    fingerprint: str
    n_rows: int
    target_names: tuple[str, ...]
    n_splits: int
    fold_seed: int
    group_folds: bool
    folds: np.ndarray
    space_name: str
    space_hash: str
    space_json: str
    prior_cv_log_loss: float
    metric: str

    def to_attr(self) -> dict[str, Any]:
        """JSON-ready form stored in the study."""
        data = {k: v for k, v in self.__dict__.items() if k != "folds"}
        data["target_names"] = list(self.target_names)
        data["folds"] = self.folds.tolist()
        return data

    @classmethod
    def from_attr(cls, data: dict[str, Any]) -> StudyMeta:
        """Inverse of :meth:`to_attr`."""
        fields = dict(data)
        fields["target_names"] = tuple(fields["target_names"])
        fields["folds"] = np.asarray(fields["folds"], dtype=np.int16)
        return cls(**fields)


def read_meta(study: optuna.Study) -> StudyMeta:
    """The creation facts of an automoa study.

    Raises:
        StudyError: if the study was not created by automoa.
    """
    data = study.user_attrs.get(_META_KEY)
    if data is None:
        raise StudyError(f"study {study.study_name!r} was not created by automoa")
    return StudyMeta.from_attr(data)


def read_meta_for(study: optuna.Study, dataset: Dataset) -> StudyMeta:
    """The study's creation facts, checking that ``dataset`` is the data it was created on.

    Raises:
        StudyError: not an automoa study, or created on other data.
    """
    meta = read_meta(study)
    if meta.fingerprint != dataset.fingerprint:
        raise StudyError(
            f"study {study.study_name!r} was created on other data (fingerprint "
            f"{meta.fingerprint[:12]}, this data {dataset.fingerprint[:12]})"
        )
    return meta


def study_names(url: str) -> list[str]:
    """Names of the studies in the storage at ``url``, sorted.

    Raises:
        StudyError: if a SQLite storage file does not exist (nothing is created).
    """
    if not storage_exists(url):
        raise StudyError(f"no study storage at {url} (check --workdir or --storage)")
    summaries = optuna.get_all_study_summaries(make_storage(url), include_best_trial=False)
    return sorted(s.study_name for s in summaries)


def load_existing(location: StudyLocation) -> optuna.Study:
    """Load an existing study for reading.

    Raises:
        StudyError: if the storage or the study does not exist (names the studies it has).
    """
    names = study_names(location.storage)
    if location.study_name not in names:
        known = ", ".join(names) or "none"
        raise StudyError(
            f"--study: no study named {location.study_name!r} in {location.storage}; "
            f"studies there: {known}"
        )
    return optuna.load_study(study_name=location.study_name, storage=make_storage(location.storage))


def _check_compatible(
    meta: StudyMeta, study_name: str, dataset: Dataset, space: SearchSpace, n_splits: int, seed: int
) -> None:
    if meta.fingerprint != dataset.fingerprint:
        raise StudyError(
            f"study {study_name!r} was created on other data ({meta.data_name}: {meta.n_rows} "
            f"rows, fingerprint {meta.fingerprint[:12]}) and refuses this data ({dataset.name}: "
            f"{dataset.n_rows} rows, fingerprint {dataset.fingerprint[:12]}); "
            "use another --study or --workdir"
        )
    if meta.space_hash != space.hash:
        changes = space_changes(meta.space_json, space.to_json())
        raise StudyError(
            f"study {study_name!r} was created with another search space ({meta.space_name}); "
            f"resuming with a changed space is refused (use a new --study, or restore the "
            f"space); changes, stored -> given: {changes}"
        )
    if (meta.n_splits, meta.fold_seed) != (n_splits, seed):
        raise StudyError(
            f"study {study_name!r} was created with --folds {meta.n_splits} --seed "
            f"{meta.fold_seed}; got --folds {n_splits} --seed {seed}"
        )


def _wait_for_meta(
    storage: optuna.storages.BaseStorage, study: optuna.Study, deadline: Deadline | None
) -> StudyMeta | None:
    """The study's creation facts, waiting while another live worker is still writing them.

    Returns ``None`` when no live worker is setting the study up: no marker, or its owner's
    pid has exited (same host), or it has not beaten for ``CREATION_STALE_SECONDS``.

    Raises:
        StudyError: the budget ran out while waiting.
    """
    started = time.monotonic()
    noticed = False
    while True:
        attrs = storage.get_study_user_attrs(study._study_id)
        if _META_KEY in attrs:
            return StudyMeta.from_attr(attrs[_META_KEY])
        marker = attrs.get(_CREATING_KEY)
        if not isinstance(marker, dict) or owner_dead(marker, CREATION_STALE_SECONDS):
            return None
        if deadline is not None and deadline.remaining() < 0.5:
            raise StudyError(
                f"study {study.study_name!r} is still being set up by {describe(marker)}; the "
                "budget ran out waiting for it"
            )
        if not noticed and time.monotonic() - started > WAIT_NOTICE_SECONDS:
            _log.warning(
                "waiting for %s to finish setting up study %r", describe(marker), study.study_name
            )
            noticed = True
        time.sleep(0.5)


class _SetUpMarker:
    """The study attribute saying that this process is setting the study up, re-written every
    ``CREATION_BEAT_SECONDS`` by a background thread while the set-up runs."""

    def __init__(self, study: optuna.Study) -> None:
        self.study = study
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def _write(self) -> None:
        owner = this_process()
        self.study.set_user_attr(_CREATING_KEY, {**owner, "time": owner["beat"]})

    def _beat(self) -> None:
        while not self._stop.wait(CREATION_BEAT_SECONDS):
            with contextlib.suppress(Exception):  # a lost beat only makes waiters wait longer
                self._write()

    def __enter__(self) -> _SetUpMarker:
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def open_study(
    location: StudyLocation,
    dataset: Dataset,
    space: SearchSpace,
    *,
    n_splits: int,
    seed: int,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
    deadline: Deadline | None = None,
) -> tuple[optuna.Study, StudyMeta, bool]:
    """Create the study, or load it and check that it matches the data, space and folds.

    On creation the folds are computed (group-aware when the data has groups), the constant
    prior is scored on them (the first trials are queued by the search loop, see
    :func:`automoa.search.controller.first_trials`). When
    several workers start together, the one whose ``create_study`` succeeds does this and the
    others wait for its facts (see ``_wait_for_meta``), never beyond ``deadline``; a worker
    that died during the set-up (``kill -9``) is replaced at once on its own host.

    Returns:
        ``(study, meta, created)``.

    Raises:
        StudyError: the study exists but was made on other data, space or folds.
    """
    storage = make_storage(location.storage)
    try:
        study = optuna.create_study(
            storage=storage,
            study_name=location.study_name,
            direction="minimize",
            sampler=sampler,
            pruner=pruner,
        )
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(
            study_name=location.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
        meta = _wait_for_meta(storage, study, deadline)
        if meta is not None:
            _check_compatible(meta, location.study_name, dataset, space, n_splits, seed)
            return study, meta, False
        # No set-up under way (an older run was stopped or killed during it): finish it here.
    # Workers starting meanwhile wait for this one, as long as it beats.
    with _SetUpMarker(study):
        meta = _set_up(study, dataset, space, n_splits, seed)
    return study, meta, True


def _set_up(
    study: optuna.Study, dataset: Dataset, space: SearchSpace, n_splits: int, seed: int
) -> StudyMeta:
    """Compute and store the study's creation facts: folds, prior score, space."""
    folds = make_folds(dataset.Y, n_splits=n_splits, seed=seed, groups=dataset.groups)
    prior = evaluate(PRIOR_CONFIG, dataset, folds, seed=seed)
    meta = StudyMeta(
        automoa_version=__version__,
        data_name=dataset.name,
        fingerprint=dataset.fingerprint,
        n_rows=dataset.n_rows,
        target_names=dataset.target_names,
        n_splits=n_splits,
        fold_seed=seed,
        group_folds=dataset.groups is not None,
        folds=folds,
        space_name=space.name,
        space_hash=space.hash,
        space_json=space.to_json(),
        prior_cv_log_loss=prior.cv_score,
        metric=METRIC_CONVENTION,
    )
    study.set_user_attr(_META_KEY, meta.to_attr())
    return meta
