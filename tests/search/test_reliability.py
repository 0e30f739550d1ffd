"""Crash safety: storages, heartbeats and retries of dead workers' trials, per-fold checkpoints."""

import socket
import subprocess
import sys
import time

import numpy as np
import optuna
import pytest

import automoa
from automoa.atomic import atomic_write
from automoa.config import PipelineConfig
from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.exceptions import StudyError
from automoa.folds import make_folds
from automoa.search import objective as objective_module
from automoa.search import storage as storage_module
from automoa.search import study as study_module
from automoa.search.artifact_store import StudyArtifacts
from automoa.search.checkpoints import FoldCheckpoints
from automoa.search.objective import data_key, evaluate
from automoa.search.record import TrialRecord
from automoa.search.study import open_study, read_meta, resolve_location
from automoa.spaces import load_space, sample, space_from_json


def _dataset(n=200):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    Y = (X[:, :2] + 0.7 * rng.normal(size=(n, 2)) > 0.9).astype(np.uint8)
    return Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(5)),
        target_names=("a", "b"),
        ids=np.array([f"r{i}" for i in range(n)]),
        X_test=rng.normal(size=(20, 5)).astype(np.float32),
        test_ids=np.array([f"t{i}" for i in range(20)]),
        name="rel",
        fingerprint="e" * 64,
    )


def test_journal_storage_runs_a_study(tmp_path):
    url = f"journal:///{tmp_path}/logs/study.log"
    outcome = automoa.search(
        _dataset(), budget="1m", space="fast", storage=url, workdir=tmp_path, max_trials=2
    )
    assert (tmp_path / "logs" / "study.log").is_file()
    assert sum(t.value is not None for t in outcome.study.trials) == 2
    again = automoa.open_study("rel", storage=url)
    assert len(again.trials) == len(outcome.study.trials)


def test_storage_urls_are_checked_and_passwords_never_shown(monkeypatch):
    with pytest.raises(StudyError, match="unsupported storage URL"):
        storage_module.make_storage("mongodb://user:secret@host/db")
    with pytest.raises(StudyError) as caught:
        storage_module.make_storage("mongodb://user:secret@host/db")
    assert "secret" not in str(caught.value) and "user:***@host" in str(caught.value)
    monkeypatch.setitem(sys.modules, "psycopg2", None)  # not installed
    with pytest.raises(StudyError, match=r"automoa\[postgresql\]"):
        storage_module.make_storage("postgresql://u:pw@127.0.0.1:1/db")


def test_a_dead_workers_trial_is_failed_and_retried_with_its_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_module, "HEARTBEAT_SECONDS", 1)
    monkeypatch.setattr(storage_module, "GRACE_SECONDS", 2)
    data = _dataset()
    automoa.search(data, budget="1m", space="fast", workdir=tmp_path, max_trials=1)
    storage = storage_module.make_storage(f"sqlite:///{tmp_path / 'automoa.db'}")
    study = optuna.load_study(study_name="rel", storage=storage)
    # A worker that started a trial and died: one heartbeat, then silence. Its trial is not the
    # linear path already complete (the fast space has nothing to sample there, so a retry of
    # that would be refused as a repeat).
    study.enqueue_trial({"model.family": "mlp"})
    dead = study.ask()  # takes the next queued trial, as a worker would
    sample(dead, space_from_json(read_meta(study).space_json))  # and samples it
    storage.record_heartbeat(dead._trial_id)
    time.sleep(3)
    # The retry is queued after the starts still waiting; enough trials to reach it.
    waiting = sum(t.state == optuna.trial.TrialState.WAITING for t in study.trials)
    outcome = automoa.search(
        data, budget="2m", space="fast", workdir=tmp_path, max_trials=waiting + 1
    )
    trials = {t.number: t for t in outcome.study.trials}
    assert trials[dead.number].state == optuna.trial.TrialState.FAIL
    retries = [t for t in trials.values() if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1
    assert retries[0].params == trials[dead.number].params and retries[0].params
    assert retries[0].state == optuna.trial.TrialState.COMPLETE  # the next worker ran it


def test_a_failed_trial_whose_retry_was_lost_with_its_worker_is_retried(tmp_path, monkeypatch):
    # Optuna fails a stale trial, then queues its retry: a worker killed between the two
    # leaves a failed trial nothing retries. The next worker to start queues it.
    monkeypatch.setattr(storage_module, "HEARTBEAT_SECONDS", 1)
    storage = storage_module.make_storage(f"sqlite:///{tmp_path / 'automoa.db'}")
    study = optuna.create_study(study_name="orphans", storage=storage)
    orphan, ours = study.ask(), study.ask()
    for trial in (orphan, ours):
        trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("family", "linear")
    ours.set_user_attr("failure_reason", "ValueError: a pipeline failed")  # recorded by automoa
    for trial in (orphan, ours):
        storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    storage_module.fail_dead_trials(study)  # failed just now: its failer may still queue it
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    time.sleep(1.5)
    storage_module.fail_dead_trials(study)
    storage_module.fail_dead_trials(study)  # a second worker does not queue it again
    (retry,) = [t for t in study.trials if t.state == optuna.trial.TrialState.WAITING]
    assert retry.system_attrs["failed_trial"] == orphan.number
    assert retry.system_attrs["retry_history"] == [orphan.number]
    assert retry.params == study.trials[orphan.number].params


def _artifacts(root):
    return StudyArtifacts(root, root / "cache")


class _Killed(BaseException):
    """Stands for the worker dying (no cleanup runs)."""


def _fold_names(artifacts, checkpoints):
    """The checkpoint files present, in a directory or a bucket."""
    names = [f"fold-{fold:02d}.npz" for fold in range(checkpoints.n_folds)]
    return [n for n in names if artifacts.read_bytes(f"folds/{checkpoints.key}/{n}") is not None]


@pytest.mark.parametrize("store", ["directory", "s3"])
def test_a_retried_trial_recomputes_only_its_missing_folds(store, tmp_path, monkeypatch, request):
    data = _dataset()
    folds = make_folds(data.Y, n_splits=4, seed=0)
    config = PipelineConfig("linear", {"C": 0.1})
    reference = evaluate(config, data, folds)
    if store == "s3":  # a retry on another machine reads them from the bucket
        bucket = request.getfixturevalue("s3_bucket")
        artifacts = StudyArtifacts(f"s3://{bucket}/retry", tmp_path / "cache")
    else:
        artifacts = _artifacts(tmp_path)
    checkpoints = FoldCheckpoints.for_trial(artifacts, data_key(data), folds, config, seed=0)

    def die_after_two(fold, _loss):
        if fold == 1:
            raise _Killed
        return False

    with pytest.raises(_Killed):
        evaluate(config, data, folds, reporter=die_after_two, checkpoints=checkpoints)
    assert _fold_names(artifacts, checkpoints) == ["fold-00.npz", "fold-01.npz"]
    fitted = []
    real_fit = objective_module._fit_fold
    monkeypatch.setattr(
        objective_module,
        "_fit_fold",
        lambda *a, **k: fitted.append(k["fold_seed"]) or real_fit(*a, **k),
    )
    resumed = evaluate(config, data, folds, checkpoints=checkpoints)
    assert fitted == [2, 3]  # folds 0 and 1 were read back, not refitted
    np.testing.assert_array_equal(resumed.oof, reference.oof)
    np.testing.assert_array_equal(resumed.test_pred, reference.test_pred)
    assert resumed.fold_scores == reference.fold_scores
    # Another pipeline or seed never reads them.
    other = FoldCheckpoints.for_trial(artifacts, data_key(data), folds, config, seed=1)
    assert other.key != checkpoints.key
    checkpoints.clear()
    assert _fold_names(artifacts, checkpoints) == []


def test_a_damaged_checkpoint_is_recomputed(tmp_path):
    data = _dataset()
    folds = make_folds(data.Y, n_splits=3, seed=0)
    config = PipelineConfig("linear", {"C": 0.1})
    checkpoints = FoldCheckpoints.for_trial(
        _artifacts(tmp_path), data_key(data), folds, config, seed=0
    )
    first = evaluate(config, data, folds, checkpoints=checkpoints)
    (tmp_path / "folds" / checkpoints.key / "fold-01.npz").write_bytes(b"half a file")
    again = evaluate(config, data, folds, checkpoints=checkpoints)
    np.testing.assert_array_equal(first.oof, again.oof)


def test_completed_trials_leave_no_checkpoints(tmp_path):
    automoa.search(_dataset(), budget="1m", space="fast", workdir=tmp_path, max_trials=2)
    folds_dir = tmp_path / "artifacts" / "folds"
    assert not folds_dir.exists() or not any(folds_dir.iterdir())


_SLOW_WRITER = """
import sys, time
from pathlib import Path
from automoa.atomic import atomic_write
with atomic_write(Path(sys.argv[1])) as out:
    for _ in range(1000):
        out.write(b"x" * 65536)
        out.flush()
        time.sleep(0.01)
"""


def test_kill_9_during_a_write_leaves_no_file_under_its_name(tmp_path):
    import signal
    import subprocess

    target = tmp_path / "oof.npy"
    process = subprocess.Popen([sys.executable, "-c", _SLOW_WRITER, str(target)])
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size > 0 for p in tmp_path.glob(".oof.npy.*.tmp")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)  # in the middle of the write
    process.wait()
    assert not target.exists()  # readers never see a partial file under the real name
    assert len(list(tmp_path.glob(".oof.npy.*.tmp"))) == 1  # only a hidden leftover


def test_atomic_writes_get_the_permissions_open_would_give(tmp_path):
    with atomic_write(tmp_path / "atomic.txt", "w") as out:
        out.write("x")
    (tmp_path / "plain.txt").write_text("x")
    mode = (tmp_path / "atomic.txt").stat().st_mode & 0o777
    assert mode == (tmp_path / "plain.txt").stat().st_mode & 0o777


def _dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _study_being_set_up(tmp_path, marker):
    """A created study whose set-up marker says ``marker`` is computing its facts."""
    storage = storage_module.make_storage(f"sqlite:///{tmp_path / 'automoa.db'}")
    study = optuna.create_study(study_name="rel", storage=storage)
    study.set_user_attr("automoa_creating", marker)
    return resolve_location("rel", tmp_path)


def test_a_set_up_left_by_a_killed_process_is_taken_over_at_once(tmp_path, caplog):
    marker = {"host": socket.gethostname(), "pid": _dead_pid(), "beat": time.time()}
    location = _study_being_set_up(tmp_path, marker)
    study, meta, created = open_study(
        location, _dataset(), load_space("fast"), n_splits=5, seed=0, deadline=Deadline(60)
    )
    assert created and meta.n_splits == 5  # this process finished the set-up
    assert "automoa" in study.user_attrs
    assert not [r for r in caplog.records if r.name == study_module.__name__]  # no wait


def test_a_live_set_up_is_waited_for_with_a_notice_and_never_beyond_the_budget(
    tmp_path, caplog, monkeypatch
):
    monkeypatch.setattr(study_module, "WAIT_NOTICE_SECONDS", 0.2)
    # Another host, beating (a beat in the future never goes stale during the test).
    marker = {"host": "elsewhere", "pid": 4242, "beat": time.time() + 3600}
    location = _study_being_set_up(tmp_path, marker)
    with pytest.raises(StudyError, match=r"set up by pid 4242 on elsewhere; the budget ran out"):
        open_study(
            location, _dataset(), load_space("fast"), n_splits=5, seed=0, deadline=Deadline(1.5)
        )
    assert [r.getMessage() for r in caplog.records if r.name == study_module.__name__] == [
        "waiting for pid 4242 on elsewhere to finish setting up study 'rel'"
    ]
    # Silent for longer than the stale window: that worker is gone; the set-up is taken over.
    marker["beat"] = time.time() - study_module.CREATION_STALE_SECONDS - 1
    location = _study_being_set_up(tmp_path / "stale", marker)
    assert open_study(location, _dataset(), load_space("fast"), n_splits=5, seed=0)[2]


def test_a_killed_workers_running_trial_is_failed_at_once_on_its_host(tmp_path):
    # No heartbeat window to wait for: the trial's owner pid on this host has exited.
    data = _dataset()
    automoa.search(data, budget="1m", space="fast", workdir=tmp_path, max_trials=1)
    storage = storage_module.make_storage(f"sqlite:///{tmp_path / 'automoa.db'}")
    study = optuna.load_study(study_name="rel", storage=storage)
    study.enqueue_trial({"model.family": "mlp"})
    dead = study.ask()
    sample(dead, space_from_json(read_meta(study).space_json))
    owner = {"host": socket.gethostname(), "pid": _dead_pid(), "beat": time.time()}
    TrialRecord(owner=owner).write(dead)
    waiting = sum(t.state == optuna.trial.TrialState.WAITING for t in study.trials)
    outcome = automoa.search(
        data, budget="2m", space="fast", workdir=tmp_path, max_trials=waiting + 1
    )
    trials = {t.number: t for t in outcome.study.trials}
    assert trials[dead.number].state == optuna.trial.TrialState.FAIL
    reason = trials[dead.number].user_attrs["failure_reason"]
    assert reason == f"its worker (pid {owner['pid']} on {owner['host']}) died"
    (retry,) = [t for t in trials.values() if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.params == trials[dead.number].params
    assert retry.state == optuna.trial.TrialState.COMPLETE


def test_a_storage_failure_is_one_line_and_leaves_no_running_trial(tmp_path, monkeypatch):
    # The disk refuses the write of a trial's result (full, read-only, locked): the command
    # ends with one error line and exit code 1, and the trial is not left RUNNING.
    from typer.testing import CliRunner

    from automoa.cli import app

    original = optuna.storages.RDBStorage.set_trial_state_values

    def refuse_results(self, trial_id, state, values=None):
        if state == optuna.trial.TrialState.COMPLETE:
            raise optuna.exceptions.StorageInternalError(
                "An exception is raised during the commit."
            ) from OSError(28, "database or disk is full\nsecond line")
        return original(self, trial_id, state, values)

    monkeypatch.setattr(optuna.storages.RDBStorage, "set_trial_state_values", refuse_results)
    workdir = tmp_path / "work"
    args = ["search", "--data", "bundled:yeast", "--budget", "1m", "--workdir", str(workdir)]
    result = CliRunner().invoke(app, [*args, "--max-trials", "1"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines[-1] == (
        "error: the study storage cannot be written or read ([Errno 28] database or disk is "
        "full); finished trials are kept, run the same command again once it can"
    )
    assert "Traceback" not in result.output
    storage = storage_module.make_storage(f"sqlite:///{workdir / 'automoa.db'}")
    (trial,) = optuna.load_study(study_name="yeast", storage=storage).trials
    assert trial.state == optuna.trial.TrialState.FAIL
