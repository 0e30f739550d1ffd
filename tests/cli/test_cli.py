import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import automoa.data
from automoa.cli import app

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_search_then_status_json(tmp_path):
    result = invoke(
        "search",
        "--data",
        "bundled:yeast",
        "--budget",
        "60s",
        "--space",
        "fast",
        "--max-trials",
        "2",
        "--workdir",
        tmp_path,
    )
    assert result.exit_code == 0, result.output
    assert "best CV log loss" in result.output and "constant prior" in result.output
    status = invoke("status", "--workdir", tmp_path, "--json")
    assert status.exit_code == 0, status.output
    data = json.loads(status.stdout)
    assert data["n_trials"] == 2 and data["states"]["COMPLETE"] >= 1
    assert data["best"]["value"] < data["prior_cv_log_loss"]
    assert {"number", "state", "value", "family", "seconds", "params"} <= set(data["trials"][0])
    table = invoke("status", "--workdir", tmp_path, "--study", "yeast")
    assert table.exit_code == 0 and "CV log loss" in table.output and "linear" in table.output


def test_a_budget_too_small_for_any_trial_writes_the_prior_and_exits_3(tmp_path):
    result = invoke("search", "--data", "bundled:yeast", "--budget", "0.3s", "--workdir", tmp_path)
    assert result.exit_code == 3, result.output
    lines = [line for line in result.stderr.splitlines() if "no trial finished" in line]
    assert len(lines) == 1 and "exit code 3" in lines[0] and "Traceback" not in result.output
    submission = pd.read_csv(tmp_path / "yeast" / "submission.csv")
    Y = pd.read_csv(Path(automoa.data.__file__).parent / "bundled/yeast/targets_train.csv")
    labels = [c for c in submission.columns[1:] if c in Y.columns]
    assert len(submission) == 917 and labels
    # Every row holds the training rate of each label (Laplace-smoothed), nothing learnt.
    rates = (Y[labels].sum() + 1) / (len(Y) + 2)
    assert np.allclose(submission[labels].to_numpy(), rates.to_numpy()[None, :], atol=1e-6)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "--data", "bundled:yeast", "--budget", "ten minutes"], "error: --budget"),
        (["search", "--budget", "10s"], "error: --data"),
        (["search", "--data", "bundled:yeast", "--budget", "10s", "--space", "nope"], "error:"),
        (["search", "--data", "bundled:yeast", "--budget", "10s", "--device", "tpu"], "--device"),
        (["search", "--data", "bundled:yeast", "--budget", "10s", "--folds", "1"], "--folds"),
        (["status", "--study", "missing"], "error: no study storage"),
    ],
    ids=["bad-budget", "no-data", "unknown-space", "bad-device", "one-fold", "no-storage"],
)
def test_user_errors_exit_2_with_one_line(tmp_path, args, message):
    result = invoke(*args, "--workdir", tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_status_names_the_studies_it_has(tmp_path):
    invoke(
        "search",
        "--data",
        "bundled:yeast",
        "--budget",
        "30s",
        "--space",
        "fast",
        "--max-trials",
        "1",
        "--workdir",
        tmp_path,
    )
    result = invoke("status", "--workdir", tmp_path, "--study", "yaest")
    assert result.exit_code == 2 and "studies there: yeast" in result.output


def test_data_check_prints_summary():
    result = invoke("data", "check", "bundled:yeast")
    assert result.exit_code == 0, result.output
    assert "1500" in result.output


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "automoa", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and "search" in result.stdout


@pytest.mark.slow
def test_acceptance_yeast_60s_budget_and_resume(tmp_path):
    """The issue's acceptance run, through the installed console script."""
    exe = Path(sys.executable).parent / "automoa"
    command = [
        str(exe),
        "search",
        "--data",
        str(SHARED / "yeast"),
        "--budget",
        "60s",
        "--workdir",
        str(tmp_path),
    ]
    started = time.perf_counter()
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    assert first.returncode == 0, first.stderr
    assert elapsed < 70, elapsed
    status = json.loads(
        subprocess.run(
            [str(exe), "status", "--workdir", str(tmp_path), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert status["best"]["value"] < status["prior_cv_log_loss"]
    n_first = status["n_trials"]
    command[command.index("60s")] = "15s"
    second = subprocess.run(command, capture_output=True, text=True, check=False)
    assert second.returncode == 0, second.stderr
    again = json.loads(
        subprocess.run(
            [str(exe), "status", "--workdir", str(tmp_path), "--json"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert again["n_trials"] > n_first


@pytest.mark.slow
def test_moa_like_2000_rows_206_targets_fast_space(tmp_path):
    made = invoke("data", "make-moa-like", tmp_path / "moa", "--rows", "2000", "--seed", "0")
    assert made.exit_code == 0, made.output
    result = invoke(
        "search",
        "--data",
        tmp_path / "moa",
        "--budget",
        "60s",
        "--space",
        "fast",
        "--workdir",
        tmp_path / "work",
    )
    assert result.exit_code == 0, result.output
    status = json.loads(invoke("status", "--workdir", tmp_path / "work", "--json").stdout)
    assert status["best"]["value"] < status["prior_cv_log_loss"]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_finished_trials(tmp_path):
    """A real SIGINT to a running search: exit 130, no traceback, finished trials kept."""
    import signal

    exe = Path(sys.executable).parent / "automoa"
    process = subprocess.Popen(
        [
            str(exe),
            "search",
            "--data",
            "bundled:yeast",
            "--budget",
            "5m",
            "--space",
            "fast",
            "--workdir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A shell starting a job in the background (`make test &`) makes it ignore SIGINT, and
        # the child inherits that; a terminal's Ctrl-C reaches a process that does not.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        lines = []
        for line in process.stdout:  # wait until two trials have finished
            lines.append(line)
            if sum("trial " in seen for seen in lines) >= 2:
                break
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:  # do not leave a 5-minute search running on failure
            process.kill()
            process.wait()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    status = json.loads(invoke("status", "--workdir", tmp_path, "--json").stdout)
    assert status["states"]["COMPLETE"] >= 2
    assert status["states"].get("RUNNING", 0) == 0


def test_search_prints_the_ensemble_and_ensemble_command_rebuilds_it(tmp_path):
    args = ["--data", "bundled:yeast", "--workdir", tmp_path]
    result = invoke("search", *args, "--budget", "60s", "--space", "fast", "--max-trials", "2")
    assert result.exit_code == 0, result.output
    assert "ensemble of 2 candidates" in result.output and "honest" in result.output
    again = invoke("ensemble", *args, "--iterations", "10")
    assert again.exit_code == 0, again.output
    assert "CV log loss" in again.output
    assert "greedy: honest" in again.output and "clipping: honest" in again.output
    bad = invoke("ensemble", *args, "--iterations", "0")
    assert bad.exit_code == 2 and bad.output.strip().startswith("error: --iterations")
    missing = invoke("ensemble", "--data", "bundled:yeast", "--workdir", tmp_path / "none")
    assert (
        missing.exit_code == 2 and "error:" in missing.output and "Traceback" not in missing.output
    )


def test_export_and_predict_commands(tmp_path):
    from automoa.data.io import bundled_path

    args = ["--data", "bundled:yeast", "--workdir", tmp_path]
    assert (
        invoke("search", *args, "--budget", "60s", "--space", "fast", "--max-trials", "1").exit_code
        == 0
    )
    exported = invoke("export", "--workdir", tmp_path, "--out", tmp_path / "model")
    assert exported.exit_code == 0, exported.output
    assert "parity max |diff|" in exported.output and "bundle written to" in exported.output
    test_file = next(bundled_path("yeast").glob("features_test*"))

    def predict(out, *extra):
        return invoke(
            "predict", "--model", tmp_path / "model", "--data", test_file, "--out", out, *extra
        )

    predicted = predict(tmp_path / "p.csv")
    assert predicted.exit_code == 0, predicted.output
    submission = (tmp_path / "yeast" / "submission.csv").read_text()
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == submission.splitlines()[0]
    again = predict(tmp_path / "p.csv")
    assert again.exit_code == 2 and "--overwrite" in again.output
    forced = predict(tmp_path / "p.csv", "--overwrite")
    assert forced.exit_code == 0, forced.output
    # A symbolic link at --out, even a dangling one, is refused and left as it is.
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "nowhere.csv")
    for extra in ([], ["--overwrite"]):
        linked = predict(link, *extra)
        assert linked.exit_code == 2 and "is a symbolic link" in linked.output, linked.output
        assert link.is_symlink() and not (tmp_path / "nowhere.csv").exists()
    # A file that appears at --out while the predictions are computed is not lost.
    import automoa.bundle.model as bundle_model

    real_write = bundle_model.write_predictions

    def racing_write(path, *args, **kwargs):
        Path(path).write_text("theirs")
        real_write(path, *args, **kwargs)

    bundle_model.write_predictions = racing_write
    try:
        raced = predict(tmp_path / "r.csv")
    finally:
        bundle_model.write_predictions = real_write
    assert raced.exit_code == 2 and "already exists" in raced.output
    assert (tmp_path / "r.csv").read_text() == "theirs"
    assert not list(tmp_path.glob(".r.csv.*"))
    missing = invoke(
        "predict", "--model", tmp_path / "nope", "--data", test_file, "--out", tmp_path / "q.csv"
    )
    assert missing.exit_code == 2 and "bundle directory not found" in missing.output
