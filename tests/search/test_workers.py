"""Many workers on one study: concurrency on SQLite and PostgreSQL, kill -9, budget.

Workers are real processes (``automoa search`` started concurrently, or ``--workers N``).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pytest

import automoa
from automoa.search.storage import MAX_RETRIES, make_storage

pytestmark = pytest.mark.slow

TRIALS = 12


def _write_data(directory):
    """Small generic-layout data (so every worker process can read it from disk)."""
    rng = np.random.default_rng(5)
    n = 160
    X = rng.normal(size=(n, 5))
    Y = (X[:, :3] + 0.6 * rng.normal(size=(n, 3)) > 0.8).astype(int)
    directory.mkdir()
    ids = [f"r{i}" for i in range(n)]
    with open(directory / "features.csv", "w") as out:
        out.write("id," + ",".join(f"f{j}" for j in range(5)) + "\n")
        for i in range(n):
            out.write(ids[i] + "," + ",".join(f"{v:.5f}" for v in X[i]) + "\n")
    with open(directory / "targets.csv", "w") as out:
        out.write("id,a,b,c\n")
        for i in range(n):
            out.write(ids[i] + "," + ",".join(str(v) for v in Y[i]) + "\n")
    return directory


def _space(tmp_path):
    """Linear models only: quick trials, so the tests exercise the machinery, not the models."""
    path = tmp_path / "space.yaml"
    path.write_text(
        "name: tiny\npreprocessing: []\nmodels:\n  linear:\n    params:\n"
        "      C: {type: float, low: 1.0e-3, high: 1.0, log: true, default: 0.1}\n"
        "      max_iter: 40\n"
    )
    return path


def _worker_command(data, storage, space, *extra):
    return [
        sys.executable,
        "-m",
        "automoa",
        "search",
        "--data",
        str(data),
        "--storage",
        storage,
        "--study",
        "shared",
        "--space",
        str(space),
        "--budget",
        "3m",
        *extra,
    ]


def _check_study(storage_url, artifacts, n_min):
    study = optuna.load_study(study_name="shared", storage=make_storage(storage_url))
    trials = study.get_trials(deepcopy=False)
    numbers = sorted(t.number for t in trials)
    assert numbers == list(range(len(numbers)))  # no lost or duplicated trial number
    running = [
        (t.number, t.datetime_start, t.user_attrs, t.system_attrs)
        for t in trials
        if t.state == optuna.trial.TrialState.RUNNING
    ]
    assert not running
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    scored = [
        t
        for t in trials
        if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert len(scored) >= n_min and complete  # pruned trials count as run
    for trial in complete:  # every COMPLETE trial has a readable OOF
        path = artifacts / trial.user_attrs["oof_artifact"]
        assert path.is_file(), (
            trial.number,
            trial.user_attrs.get("oof_artifact"),
            trial.system_attrs.get("artifacts:" + trial.user_attrs["oof_artifact"], "no meta"),
            [
                (t.number, t.state.name, t.user_attrs.get("oof_artifact"), t.datetime_complete)
                for t in trials
                if t.number in (trial.system_attrs.get("failed_trial"), trial.number)
            ],
        )
        oof = np.load(path, allow_pickle=False)
        assert oof.shape == (160, 3) and np.isfinite(oof).all()
    # The study was set up once: one set of facts, its first trial queued once. Separate
    # processes can race to queue it (check, then enqueue); a duplicate is refused as a repeat
    # before its first fold, so it costs no training.
    starts = sorted((t for t in trials if "fixed_params" in t.system_attrs), key=lambda t: t.number)
    assert len({str(sorted(t.params.items())) for t in starts}) == 1  # the one default
    for duplicate in starts[1:]:
        assert not duplicate.user_attrs.get("fold_seconds"), duplicate.number
    return study


def _run_concurrently(tmp_path, storage_url, n_workers=4):
    data = _write_data(tmp_path / "data")
    space = _space(tmp_path)
    artifacts = tmp_path / "artifacts"
    env = {**os.environ, "AUTOMOA_WORKER_THREADS": "1"}
    command = _worker_command(
        data,
        storage_url,
        space,
        "--max-trials",
        str(TRIALS // n_workers),
        "--artifacts",
        str(artifacts),
    )
    # All at once on a fresh storage: they race to create the tables and the study.
    processes = [
        subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n_workers)
    ]
    for process in processes:
        _out, err = process.communicate(timeout=400)
        assert process.returncode == 0, err
        assert "Traceback" not in err
    return _check_study(storage_url, artifacts, n_min=TRIALS)


def test_four_workers_share_one_sqlite_study(tmp_path):
    _run_concurrently(tmp_path, f"sqlite:///{tmp_path / 'shared.db'}")


def test_four_workers_share_one_postgresql_study(tmp_path, postgres_url):
    _run_concurrently(tmp_path, postgres_url)


def test_workers_option_splits_the_cores_and_shares_the_trial_count(tmp_path):
    data = _write_data(tmp_path / "data")
    seen = []  # Optuna callbacks run in this (parent) process, once per finished trial
    outcome = automoa.search(
        data,
        budget="3m",
        space=_space(tmp_path),
        workdir=tmp_path / "w",
        workers=2,
        max_trials=8,
        study="shared",
        callbacks=[lambda study, trial: seen.append((study.study_name, trial.number))],
    )
    assert outcome.stopped_by == "trials"
    assert outcome.trials_run >= 8
    study = _check_study(
        f"sqlite:///{tmp_path / 'w' / 'automoa.db'}", tmp_path / "w" / "artifacts", n_min=8
    )
    assert outcome.ensemble is not None and len(study.trials) >= 8
    finished = sorted(t.number for t in study.trials if t.state.is_finished())
    assert sorted(number for _, number in seen) == finished
    assert {name for name, _ in seen} == {"shared"}


# A worker whose artifact writes stop just before the rename that would publish the file (the
# data is written and synced): the test kills it there. Only the test's worker is patched.
_PAUSED_IN_ARTIFACT_WRITE = """
import os, sys, time
from pathlib import Path

artifacts, marker = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
publish = os.replace


def replace(source, target, *args, **kwargs):
    if Path(target).resolve().parent == artifacts:  # a trial's OOF or test predictions
        marker.write_text(str(target))
        time.sleep(600)
    return publish(source, target, *args, **kwargs)


os.replace = replace
sys.argv = ["automoa", *sys.argv[3:]]
from automoa.cli import main

main()
"""


def _start_paused(script, marker, args, cwd, env=None, what="the pause"):
    """Run ``script`` (a patched ``automoa`` command) until it writes ``marker``; the process."""
    process = subprocess.Popen(
        [sys.executable, "-c", script, *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert process.poll() is None and time.monotonic() < deadline, f"no {what} seen"
        time.sleep(0.05)
    return process


def _kill_during_an_artifact_write(command, cwd, env, artifacts, attempt):
    marker = cwd / f"writing-{attempt}"
    options = command[3:]  # what follows ``python -m automoa``
    args = [str(artifacts), str(marker), *options]
    process = _start_paused(_PAUSED_IN_ARTIFACT_WRITE, marker, args, cwd, env, "artifact write")
    time.sleep(0.2)  # the marker is written before the pause: the worker is in it now
    process.send_signal(signal.SIGKILL)
    process.wait()
    target = Path(marker.read_text())
    assert not target.exists()  # nothing under the artifact's name...
    assert list(target.parent.glob(f".{target.name}.*.tmp"))  # ...only a hidden leftover


def test_kill_9_loses_no_complete_trial_and_the_study_completes(tmp_path):
    data = _write_data(tmp_path / "data")
    space = _space(tmp_path)
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    artifacts = tmp_path / "artifacts"
    env = {
        **os.environ,
        "AUTOMOA_WORKER_THREADS": "1",
        "AUTOMOA_HEARTBEAT_SECONDS": "1",
        "AUTOMOA_GRACE_SECONDS": "3",
    }
    command = _worker_command(data, storage, space, "--artifacts", str(artifacts))
    rng = random.Random(0)
    kills = 0
    for attempt in range(12):
        if attempt in (2, 7):  # these two are killed in the middle of writing a trial's OOF
            _kill_during_an_artifact_write(command, tmp_path, env, artifacts, attempt)
        else:
            process = subprocess.Popen(
                command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            time.sleep(rng.uniform(3.0, 7.0))  # start-up is ~3 s: kills land in set-up and trials
            process.send_signal(signal.SIGKILL)
            process.wait()
        kills += 1
    assert kills >= 10
    time.sleep(4)  # past the grace period: the killed workers' trials are stale now
    final = subprocess.run(
        [*command, "--max-trials", "6"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert final.returncode == 0, final.stderr
    study = _check_study(storage, artifacts, n_min=6)
    failed = [t for t in study.trials if t.state == optuna.trial.TrialState.FAIL]
    # A retry's ``retry_history`` lists every attempt it replaces; ``failed_trial`` names only
    # the first, so a killed retry is found through the history of the retry that replaced it.
    retried = set().union(*(t.system_attrs.get("retry_history", []) for t in study.trials))
    assert retried  # kills landed in running trials, which were failed and queued again
    for trial in failed:  # each one retried, killed before it was even sampled, or given up on
        # A retry is queued first, so the next worker takes it and may be killed again: after
        # MAX_RETRIES attempts Optuna's callback stops retrying (by design).
        gave_up = len(trial.system_attrs.get("retry_history", [])) >= MAX_RETRIES
        assert trial.number in retried or trial.user_attrs.get("failure_reason") or gave_up, (
            trial.number
        )
    # Retries run with the parameters the trial they replace had sampled (a trial killed
    # while sampling has only some; the retry samples the rest).
    by_number = {t.number: t for t in study.trials}
    for trial in study.trials:
        if trial.system_attrs.get("failed_trial") is not None and trial.state.is_finished():
            dead = by_number[trial.system_attrs["failed_trial"]].params
            assert dead.items() <= trial.params.items()


@pytest.mark.parametrize("n_workers", [1, 3])
def test_every_worker_stops_within_the_budget(tmp_path, n_workers):
    data = _write_data(tmp_path / "data")
    command = [
        sys.executable,
        "-m",
        "automoa",
        "search",
        "--data",
        str(data),
        "--workdir",
        str(tmp_path / "w"),
        "--space",
        "fast",
        "--budget",
        "60s",
        "--workers",
        str(n_workers),
        "--oversubscribe",  # 3 workers on a 2-core CI machine, on purpose
    ]
    started = time.monotonic()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=200)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "ensemble" in result.stdout
    assert elapsed <= 60 + 10, elapsed


# A search that stops inside the study's set-up (folds and prior), after its marker is written:
# the test kills it there.
_PAUSED_IN_SET_UP = """
import sys, time
from pathlib import Path

from automoa.search import study as study_module

marker = Path(sys.argv[1])


def set_up(*args, **kwargs):
    marker.write_text("setting up")
    time.sleep(600)


study_module._set_up = set_up
sys.argv = ["automoa", *sys.argv[2:]]
from automoa.cli import main

main()
"""


def test_kill_9_during_the_study_set_up_does_not_block_the_next_search(tmp_path):
    data = _write_data(tmp_path / "data")
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    command = _worker_command(data, storage, _space(tmp_path), "--artifacts", "artifacts")
    marker = tmp_path / "setting-up"
    args = [str(marker), *command[3:]]
    process = _start_paused(_PAUSED_IN_SET_UP, marker, args, tmp_path, what="set-up")
    process.send_signal(signal.SIGKILL)
    process.wait()
    study = optuna.load_study(study_name="shared", storage=make_storage(storage))
    assert study.user_attrs["automoa_creating"]["pid"] == process.pid  # left behind
    assert "automoa" not in study.user_attrs
    # The next search, on a budget shorter than any wait for a stale marker, takes the set-up
    # over at once (its owner's pid is gone) and finishes with a result.
    command[command.index("--budget") + 1] = "10s"
    final = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    assert "waiting for" not in final.stderr
    _check_study(storage, tmp_path / "artifacts", n_min=1)
