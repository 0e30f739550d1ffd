"""What the command line says is true: version, help defaults, study and status lines, plain text
from files, missing extras, trackers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from typer.testing import CliRunner

import automoa
from automoa.cli import app
from automoa.exceptions import ConfigError, SearchSpaceError, StudyError
from automoa.search.callbacks import mlflow_callback
from automoa.spaces import load_space, without_missing_extras

runner = CliRunner()
FAST = Path(automoa.__file__).parent / "search_spaces" / "fast.yaml"


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.strip() == f"automoa {automoa.__version__}"


def test_help_texts_keep_their_square_brackets():
    result = invoke("search", "--help")
    assert result.exit_code == 0
    text = " ".join(result.output.split())  # the help wraps lines
    assert "[default: ./automoa-work]" in text
    assert "[default: WORKDIR/artifacts]" in text
    assert "s3://BUCKET/PREFIX" in text


def test_help_and_version_import_neither_torch_nor_optuna():
    code = (
        "import sys\n"
        "from automoa.cli import app\n"
        "from typer.testing import CliRunner\n"
        "assert CliRunner().invoke(app, ['--help']).exit_code == 0\n"
        "assert CliRunner().invoke(app, ['--version']).exit_code == 0\n"
        "heavy = [m for m in ('torch', 'optuna', 'sklearn', 'xgboost') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_the_package_imports_its_public_names_on_first_use():
    code = (
        "import sys, automoa\n"
        "assert 'torch' not in sys.modules\n"
        "assert callable(automoa.search) and automoa.datasets.__name__ == 'automoa.datasets'\n"
        "assert 'automoa.api' in sys.modules\n"
        "assert set(automoa.__all__) <= set(dir(automoa))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        automoa.nope  # noqa: B018


def _named_space(tmp_path: Path, name: str) -> Path:
    document = yaml.safe_load(FAST.read_text())
    document["name"] = name
    document["models"] = {"linear": document["models"]["linear"]}
    document["starts"] = [s for s in document.get("starts", []) if s["family"] == "linear"]
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_a_new_study_is_new_then_resumed_and_status_counts_add_up(tmp_path):
    space = _named_space(tmp_path, "[bold red]forged[/bold red]")
    # The budget is only an upper bound here: --max-trials ends each run.
    args = ["search", "--data", "bundled:yeast", "--budget", "10m", "--space", space]
    first = invoke(*args, "--max-trials", "1", "--workdir", tmp_path / "w")
    assert first.exit_code == 0, first.output
    assert "): new study;" in first.output and "resuming" not in first.output
    # Text from a file is printed as written, never as console markup.
    assert "space [bold red]forged[/bold red]" in first.output

    second = invoke(*args, "--max-trials", "1", "--workdir", tmp_path / "w")
    assert second.exit_code == 0, second.output
    study = optuna.load_study(study_name="yeast", storage=f"sqlite:///{tmp_path / 'w/automoa.db'}")
    started_before = sum(t.state != optuna.trial.TrialState.WAITING for t in study.trials) - 1
    plural = "" if started_before == 1 else "s"
    assert f"resuming after {started_before} trial{plural};" in second.output

    status = invoke("status", "--workdir", tmp_path / "w")
    assert status.exit_code == 0, status.output
    head = status.output.splitlines()[0]
    match = re.search(r": (\d+) trials \(([^)]*)\)", head)
    assert match, head
    counts = [int(part.split()[0]) for part in match.group(2).split(", ")]
    assert sum(counts) == int(match.group(1)), head  # queued trials are listed apart
    assert "waiting" not in match.group(2)


def test_a_failed_space_creates_nothing(tmp_path):
    result = invoke(
        "search", "--data", "bundled:yeast", "--budget", "5s", "--space", "nope",
        "--workdir", tmp_path / "w",
    )  # fmt: skip
    assert result.exit_code == 2 and "nope: unknown search space" in result.output
    assert not (tmp_path / "w").exists()


# -- missing extras ----------------------------------------------------------------------------


def test_a_shipped_space_leaves_out_a_family_whose_library_is_missing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # as if xgboost were not installed
    result = invoke(
        "search", "--data", "bundled:yeast", "--budget", "10m", "--space", "fast",
        "--max-trials", "4", "--workdir", tmp_path / "w",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, result.output
    assert "'xgboost' left out" in warnings[0] and "pip install 'automoa[xgboost]'" in warnings[0]
    study = optuna.load_study(study_name="yeast", storage=f"sqlite:///{tmp_path / 'w/automoa.db'}")
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 2  # (4 here; a loaded machine may stop a slow one for time)
    assert not [t for t in finished if t.state == optuna.trial.TrialState.FAIL]
    assert "xgboost" not in {t.user_attrs.get("family") for t in study.trials}


def test_a_users_space_asking_for_a_missing_family_is_an_error_naming_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)
    space = load_space(FAST)
    with pytest.raises(SearchSpaceError, match=r"'xgboost' cannot run here .*automoa\[xgboost\]"):
        without_missing_extras(space, explicit=True)
    kept = without_missing_extras(load_space("fast"), explicit=False)  # warns, see above
    assert "xgboost" not in kept.families
    assert all(start.family != "xgboost" for start in kept.starts)


def test_nothing_missing_keeps_the_space_as_it_is():
    space = load_space("fast")
    assert without_missing_extras(space, explicit=True) is space


# -- trackers ----------------------------------------------------------------------------------


def test_callbacks_see_every_trial_of_the_search(tmp_path):
    seen = []
    result = automoa.search(
        "bundled:yeast",
        budget="10m",
        space="fast",
        workdir=tmp_path / "w",
        max_trials=3,
        ensemble=False,
        callbacks=[lambda study, trial: seen.append((trial.number, trial.state))],
    )
    finished = [(t.number, t.state) for t in result.study.trials if t.state.is_finished()]
    assert seen == finished and len(seen) == 3


def test_callbacks_must_be_a_list_of_callables(tmp_path):
    with pytest.raises(ConfigError, match=r"callbacks\[0\]: expected a callable"):
        automoa.search("bundled:yeast", budget="5s", workdir=tmp_path / "w", callbacks=[1])
    with pytest.raises(ConfigError, match="a list of callables"):
        automoa.search("bundled:yeast", budget="5s", workdir=tmp_path / "w", callbacks=print)
    assert not (tmp_path / "w").exists()


def test_mlflow_without_its_extra_is_an_error_naming_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(ConfigError, match=r"--mlflow needs .*pip install 'automoa\[mlflow\]'"):
        mlflow_callback("file:///tmp/mlruns")


def test_mlflow_file_store_needs_mlflows_opt_in(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(ConfigError, match="MLFLOW_ALLOW_FILE_STORE=true"):
        mlflow_callback((tmp_path / "mlruns").as_uri())


def test_a_failing_callback_is_one_error_line(tmp_path):
    def broken(study, trial):
        raise RuntimeError("tracker down\nsecond line")

    with pytest.raises(StudyError, match=r"^callback broken failed after trial 0: tracker down$"):
        automoa.search(
            "bundled:yeast", budget="10m", space="fast", workdir=tmp_path / "w", max_trials=2,
            callbacks=[broken],
        )  # fmt: skip


def test_mlflow_logs_every_trial_to_a_file_store(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps it opt-in
    uri = (tmp_path / "mlruns").as_uri()
    result = invoke(
        "search", "--data", "bundled:yeast", "--budget", "10m", "--space", "fast",
        "--max-trials", "2", "--workdir", tmp_path / "w", "--mlflow", uri,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name("yeast")
    runs = mlflow.search_runs([experiment.experiment_id], output_format="list")
    assert len(runs) == 2
    complete = [r for r in runs if "cv_log_loss" in r.data.metrics]
    assert complete and all(0 < r.data.metrics["cv_log_loss"] < 1 for r in complete)
    study = optuna.load_study(study_name="yeast", storage=f"sqlite:///{tmp_path / 'w/automoa.db'}")
    logged = sorted(tuple(sorted(r.data.params)) for r in runs)
    expected = sorted(tuple(sorted(t.params)) for t in study.trials if t.state.is_finished())
    assert logged == expected and all(logged)
