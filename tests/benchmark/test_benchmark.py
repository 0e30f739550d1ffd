"""The benchmark harness: tasks and outer splits, systems, the protocol's files, the report."""

import re
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from automoa.benchmark import external, presets, runner, systems
from automoa.benchmark.report import write_benchmark_report
from automoa.benchmark.summary import dataset_table, normalised_results, overall_table
from automoa.benchmark.tasks import BenchmarkTask, benchmark_tasks, outer_split
from automoa.cli import app
from automoa.data import make_moa_like
from automoa.data.dataset import Dataset
from automoa.data.examples import load_yeast_test_targets
from automoa.exceptions import ConfigError
from automoa.metrics import mean_columnwise_log_loss


def _dataset(n=240, labels=3, groups=None, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = (X[:, :labels] + 0.7 * rng.normal(size=(n, labels)) > 0.6).astype(np.uint8)
    return Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(6)),
        target_names=tuple(f"t{j}" for j in range(labels)),
        ids=np.array([f"r{i}" for i in range(n)]),
        groups=groups,
        name="toy",
        fingerprint="a" * 64,
    )


def _task(data=None):
    train, Y_test = outer_split(data or _dataset(), 0, 4)
    return BenchmarkTask("toy", "0/4", train, Y_test)


def test_outer_folds_hold_every_row_out_once_and_keep_small_groups_whole():
    groups = np.repeat(np.arange(60), 4)  # drugs of 4 rows
    data = _dataset(groups=groups)
    held = []
    for k in range(5):
        train, Y_test = outer_split(data, k, 5)
        assert train.X_test.shape[0] == Y_test.shape[0]
        test_ids = set(train.test_ids)
        assert not test_ids & set(train.ids)  # no held-out row is trained on
        assert not set(groups[np.isin(data.ids, list(test_ids))]) & set(train.groups)
        held.extend(test_ids)
    assert sorted(held) == sorted(data.ids)  # each row held out exactly once


def test_an_official_split_is_one_task_scored_on_its_test_labels():
    (task,) = benchmark_tasks("yeast", datasets_dir=None, cache_dir=None)
    assert task.fold == "test" and task.dataset == "yeast"
    assert task.train.X.shape == (1500, 103) and task.train.X_test.shape == (917, 103)
    expected = load_yeast_test_targets(task.train.test_ids)
    np.testing.assert_array_equal(task.Y_test, expected)


def test_moa_layout_without_test_labels_uses_outer_folds_and_controls_stay_zero(tmp_path):
    data = make_moa_like(
        tmp_path / "moa", rows=300, targets=6, n_genes=12, n_cells=4, n_nonscored=0, seed=1
    )
    tasks = list(benchmark_tasks(str(data), datasets_dir=None, cache_dir=tmp_path, folds_to_run=2))
    assert [t.fold for t in tasks] == ["0/5", "1/5"]
    task = tasks[0]
    assert task.train.test_known_negative.any()
    run = systems.run_prior(task, seed=0, cores=1)
    assert (run.test_proba[task.train.test_known_negative] == 0).all()
    assert task.train.groups is not None  # drug-aware outer folds


def test_unknown_dataset_names_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="--datasets nope: not a directory nor one of yeast"):
        list(benchmark_tasks("nope", datasets_dir=None, cache_dir=tmp_path))
    with pytest.raises(ConfigError, match="--datasets scene: not found under"):
        list(benchmark_tasks("scene", datasets_dir=tmp_path, cache_dir=tmp_path))


def test_tuned_logistic_regression_reproduces_the_shared_reference_on_yeast():
    (task,) = benchmark_tasks("yeast", datasets_dir=None, cache_dir=None)
    prior = systems.held_out_log_loss(task, systems.run_prior(task, 0, 2).test_proba)
    logreg = systems.run_logreg(task, 0, 2)
    # ../shared/datasets/README.md: prior 0.4965, BR-logistic 0.4507 on this split.
    assert prior == pytest.approx(0.4965, abs=5e-4)
    assert systems.held_out_log_loss(task, logreg.test_proba) == pytest.approx(0.4507, abs=3e-3)
    assert 0.3 < logreg.cv_log_loss < 0.6


def test_the_per_label_path_baseline_matches_the_tuned_reference_on_yeast():
    (task,) = benchmark_tasks("yeast", datasets_dir=None, cache_dir=None)
    path = systems.run_logreg_path(task, 0, 2)
    assert path.test_proba.shape == task.Y_test.shape
    # ../shared/datasets/README.md: BR-logistic 0.4507 on this split; the path is as good.
    assert systems.held_out_log_loss(task, path.test_proba) < 0.4507 + 5e-3


def test_xgboost_and_mlp_starter_predict_every_label_and_beat_the_prior():
    task = _task(_dataset(n=400))
    prior = systems.held_out_log_loss(task, systems.run_prior(task, 0, 2).test_proba)
    for run in (systems.run_xgboost(task, 0, 2), systems.run_mlp_starter(task, 0, 2)):
        assert run.test_proba.shape == task.Y_test.shape
        assert systems.held_out_log_loss(task, run.test_proba) < prior


def test_the_starter_recipe_keeps_pca_only_for_gene_and_cell_columns():
    config = systems.mlp_starter_config(_dataset())
    assert [s.name for s in config.preprocessing] == ["quantile", "variance"]
    assert config.model_params["n_layers"] == 2 and config.model_params["hidden_size"] == 1024
    assert config.loss.name == "smoothed_bce" and config.loss.params["smoothing"] == 0.001


def _config(tmp_path, systems_=("prior", "logreg"), **kwargs):
    return runner.BenchmarkConfig(
        datasets=["yeast"],
        systems=list(systems_),
        budgets=kwargs.pop("budgets", []),
        seeds=[0],
        cores=2,
        out=tmp_path / "out",
        **kwargs,
    )


def test_results_are_written_per_run_and_a_rerun_skips_what_is_done(tmp_path, monkeypatch):
    calls = []
    real_prior = runner.FIXED_SYSTEMS["prior"]

    def counted(task, seed, cores):
        calls.append(seed)
        return real_prior(task, seed, cores)

    def broken(task, seed, cores):
        raise ValueError("out of memory\nsecond line")

    monkeypatch.setitem(runner.FIXED_SYSTEMS, "prior", counted)
    monkeypatch.setitem(runner.FIXED_SYSTEMS, "logreg", broken)
    config = _config(tmp_path)
    results = runner.run_benchmark(config)
    assert list(results.columns) == runner.RESULT_COLUMNS
    assert list(results["system"]) == ["prior", "logreg"]
    failed = results.set_index("system").loc["logreg"]
    assert failed["failure"] == "ValueError: out of memory" and np.isnan(failed["test_log_loss"])
    assert (tmp_path / "out" / "runs").is_dir()  # the failed run's traceback is kept
    assert list((tmp_path / "out" / "runs").glob("*/traceback.txt"))
    per_label = pd.read_csv(tmp_path / "out" / runner.PER_LABEL)
    assert len(per_label) == 14 and set(per_label["system"]) == {"prior"}

    again = runner.run_benchmark(config)
    assert calls == [0] and len(again) == 2  # nothing re-run


def test_normalised_scores_ranks_and_failures():
    rows = []
    for dataset, losses in {"a": (0.5, 0.3, 0.2, None), "b": (0.4, 0.2, 0.25, 0.1)}.items():
        for system, loss in zip(("prior", "logreg", "automoa", "flaml"), losses, strict=True):
            rows.append(
                {
                    "dataset": dataset,
                    "fold": "test",
                    "system": system,
                    "budget_seconds": 60.0 if system in ("automoa", "flaml") else np.nan,
                    "seed": 0,
                    "test_log_loss": np.nan if loss is None else loss,
                    "cv_log_loss": np.nan,
                    "wall_seconds": 1.0,
                    "overrun_seconds": 0.0,
                    "failure": "" if loss is not None else "killed",
                }
            )
    results = pd.DataFrame(rows)
    frame = normalised_results(results).set_index(["dataset", "variant"])
    assert frame.loc[("a", "prior"), "normalised"] == 0
    assert frame.loc[("a", "logreg"), "normalised"] == 1
    assert frame.loc[("a", "automoa 1m"), "normalised"] == pytest.approx(1.5)
    assert frame.loc[("a", "flaml 1m"), "normalised"] == 0  # failure scored as the prior
    table = dataset_table(results).set_index(["dataset", "variant"])
    assert table.loc[("b", "flaml 1m"), "rank"] == 1 and table.loc[("a", "automoa 1m"), "rank"] == 1
    assert table.loc[("a", "flaml 1m"), "failures"] == 1
    overall = overall_table(results).set_index("variant")
    assert overall.loc["automoa 1m", "mean_rank"] == 2.0  # 1st on a, 3rd on b
    assert overall.loc["automoa 1m", "mean_normalised"] == pytest.approx((1.5 + 0.75) / 2)


def test_a_dataset_where_logreg_does_not_beat_the_prior_has_no_normalised_scores(tmp_path):
    rows = [
        {
            "dataset": dataset,
            "fold": "0/5",
            "system": system,
            "budget_seconds": 60.0 if system == "automoa" else np.nan,
            "seed": 0,
            "test_log_loss": loss,
            "cv_log_loss": np.nan,
            "wall_seconds": 1.0,
            "overrun_seconds": 0.0,
            "failure": "",
            "notes": "",
            "n_train": 10,
            "n_test": 5,
            "n_labels": 2,
            "cores": 2,
        }
        for dataset, losses in {"rare": (0.023, 0.027, 0.022), "easy": (0.5, 0.3, 0.2)}.items()
        for system, loss in zip(("prior", "logreg", "automoa"), losses, strict=True)
    ]
    out = tmp_path / "out"
    out.mkdir()
    pd.DataFrame(rows).to_csv(out / runner.RESULTS, index=False)
    table = dataset_table(pd.DataFrame(rows)).set_index(["dataset", "variant"])
    assert np.isnan(table.loc[("rare", "automoa 1m"), "normalised"])
    assert table.loc[("rare", "automoa 1m"), "rank"] == 1
    overall = overall_table(pd.DataFrame(rows)).set_index("variant")
    assert overall.loc["automoa 1m", "mean_normalised"] == pytest.approx(1.5)  # easy only
    assert overall.loc["automoa 1m", "mean_rank"] == 1.0
    text = write_benchmark_report(out).markdown.read_text()
    rare = text.split("## rare")[1].split("## ")[0]
    assert "does not beat the prior (0.02300)" in rare and "(0.02700)" in rare
    assert "does not beat the prior" not in text.split("## easy")[1].split("## ")[0]


def test_report_has_tables_and_embedded_plots(tmp_path):
    runner.run_benchmark(_config(tmp_path, systems_=("prior", "logreg", "xgboost")))
    report = write_benchmark_report(tmp_path / "out")
    assert set(report.plots) == {"normalised", "anytime", "per_label"}
    page = report.html.read_text()
    assert page.count("data:image/png;base64,") == 3 and 'src="http' not in page
    text = report.markdown.read_text()
    assert "## yeast" in text and "| 1 | logreg |" in text and "## Overall" in text
    for path in report.plots.values():
        assert path.read_bytes().startswith(b"\x89PNG")


def test_an_external_system_runs_its_script_in_its_environment(tmp_path, monkeypatch):
    script = tmp_path / "fake_runner.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(external.RUNNERS)!r})
            from common import main
            from sklearn.linear_model import LogisticRegression

            def fit_label(X, y, X_test, seconds, options, index):
                if index == 1:
                    raise RuntimeError("this label fails")
                return LogisticRegression().fit(X, y).predict_proba(X_test)[:, 1]

            main(fit_label)
            """
        )
    )
    fake = external.ExternalSystem("fake", (), str(script))
    monkeypatch.setattr(external, "ensure_environment", lambda system, venvs: sys.executable)
    task = _task()
    run = external.run_external(fake, task, 0, 1, 30.0, tmp_path / "work", tmp_path / "venvs")
    assert run.test_proba.shape == task.Y_test.shape
    assert run.notes == "1 of 3 labels predicted by their rate"
    rate = (task.train.Y[:, 1].sum() + 1) / (task.train.n_rows + 2)
    np.testing.assert_allclose(run.test_proba[:, 1], rate)
    assert mean_columnwise_log_loss(task.Y_test, run.test_proba) < 0.69


def test_an_environment_that_cannot_be_installed_is_a_one_line_failure(tmp_path):
    broken = external.ExternalSystem("broken", ((str(tmp_path / "no-such-package"),),), "x.py")
    with pytest.raises(external.ExternalSystemError, match=r"broken: .*no-such-package failed"):
        external.ensure_environment(broken, tmp_path / "venvs")


def test_cli_benchmark_writes_results_and_report(tmp_path):
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        app, ["benchmark", "--datasets", "yeast", "--systems", "prior,logreg", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert re.search(
        r"yeast \[test\] logreg seed 0: held-out log loss 0\.4[45]\d{3} ", result.output
    )
    assert (out / "results.csv").is_file() and (out / "report.html").is_file()
    bad = CliRunner().invoke(app, ["benchmark", "--systems", "h2o", "--out", str(out)])
    assert bad.exit_code == 2 and bad.output.startswith("error: --systems: unknown h2o")
    assert len(bad.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_automoa_runs_within_its_budget_and_reports_anytime_points(tmp_path):
    task = _task(_dataset(n=300))
    run = systems.run_automoa(task, 0, 2, 25.0, tmp_path / "work", space="fast")
    assert run.test_proba.shape == task.Y_test.shape
    assert run.anytime and all(s > 0 for s, _ in run.anytime)
    losses = [systems.held_out_log_loss(task, p) for _, p in run.anytime]
    assert np.isfinite(losses).all() and np.isfinite(run.cv_log_loss)


@pytest.mark.slow
def test_quick_preset_runs_every_builtin_system_and_writes_the_report(tmp_path):
    out = tmp_path / "quick"
    result = CliRunner().invoke(
        app, ["benchmark", "--quick", "--datasets", "yeast", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    results = pd.read_csv(out / "results.csv")
    assert list(results["system"]) == ["prior", "logreg", "xgboost", "mlp-starter", "automoa"]
    assert results["failure"].isna().all()
    automoa_row = results[results["system"] == "automoa"].iloc[0]
    assert automoa_row["budget_seconds"] == 30 and automoa_row["overrun_seconds"] < 10
    assert automoa_row["test_log_loss"] < results.set_index("system").loc["prior", "test_log_loss"]
    assert (out / "report.html").is_file() and (out / "anytime.png").is_file()


def test_quick_preset_leaves_out_shared_datasets_it_cannot_find(tmp_path):
    report = presets.benchmark(
        tmp_path / "out", quick=True, systems=["prior"], datasets_dir=tmp_path / "nothing"
    )
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert list(results["dataset"]) == ["yeast"]  # emotions is not there; yeast is bundled
    assert report.markdown.is_file()


def _nonlinear_dir(tmp_path):
    return make_moa_like(
        tmp_path / "nl",
        rows=400,
        targets=8,
        n_genes=16,
        n_cells=4,
        n_nonscored=0,
        seed=2,
        mode="nonlinear",
    )


def test_nonlinear_tasks_carry_the_held_out_rows_true_probabilities(tmp_path):
    data = _nonlinear_dir(tmp_path)
    (task,) = benchmark_tasks(str(data), datasets_dir=None, cache_dir=tmp_path)
    true = pd.read_csv(data / "true_probabilities_train.csv").set_index("sig_id")
    expected = true.loc[task.train.test_ids].to_numpy()
    np.testing.assert_array_equal(task.P_test, expected)
    assert task.P_test.shape == task.Y_test.shape
    assert (task.P_test[task.train.test_known_negative] == 0).all()
    # linear MoA-like data has no true probabilities
    linear = make_moa_like(tmp_path / "lin", rows=300, targets=6, n_genes=12, n_cells=4, seed=1)
    assert next(benchmark_tasks(str(linear), datasets_dir=None, cache_dir=tmp_path)).P_test is None


def test_bayes_log_loss_and_gap_ratios_are_reported(tmp_path, monkeypatch):
    data = _nonlinear_dir(tmp_path)
    # a system that predicts the true probabilities: the oracle, gap ratio 0
    monkeypatch.setitem(
        runner.FIXED_SYSTEMS, "logreg", lambda task, seed, cores: systems.SystemRun(task.P_test)
    )
    config = runner.BenchmarkConfig(
        datasets=[str(data)],
        systems=["prior", "logreg"],
        budgets=[],
        seeds=[0],
        cores=1,
        out=tmp_path / "out",
    )
    results = runner.run_benchmark(config)
    assert list(results.columns) == runner.RESULT_COLUMNS
    results = results.set_index("system")
    (task,) = benchmark_tasks(str(data), datasets_dir=None, cache_dir=tmp_path)
    bayes = mean_columnwise_log_loss(task.Y_test, task.P_test)
    assert results["bayes_log_loss"].tolist() == pytest.approx([bayes, bayes])
    assert results.loc["prior", "test_log_loss"] > bayes
    assert results.loc["prior", "gap_ratio"] == pytest.approx(1.0)
    assert results.loc["logreg", "test_log_loss"] == pytest.approx(bayes)
    assert results.loc["logreg", "gap_ratio"] == pytest.approx(0.0, abs=1e-9)
    table = dataset_table(results.reset_index()).set_index("variant")
    assert table.loc["prior", "gap_ratio"] == pytest.approx(1.0)
    assert table.loc["logreg", "bayes_log_loss"] == pytest.approx(bayes)
    text = write_benchmark_report(tmp_path / "out").markdown.read_text()
    assert "gap ratio" in text and "Bayes log loss" in text and "| 0.000 |" in text


def test_gap_ratio_is_undefined_without_a_bayes_loss_and_one_for_failures():
    assert runner.gap_ratio(0.5, 0.1, 0.9) == pytest.approx(0.5)
    assert np.isnan(runner.gap_ratio(0.5, float("nan"), 0.9))
    assert np.isnan(runner.gap_ratio(0.5, 0.9, 0.9))  # the prior does not lose to the oracle
    rows = pd.DataFrame(
        {
            "dataset": ["d", "d"],
            "fold": ["0/5", "0/5"],
            "system": ["prior", "xgboost"],
            "budget_seconds": [np.nan, np.nan],
            "seed": [0, 0],
            "test_log_loss": [0.02, np.nan],
            "cv_log_loss": [np.nan, np.nan],
            "wall_seconds": [1.0, 1.0],
            "overrun_seconds": [0.0, 0.0],
            "failure": ["", "MemoryError"],
            "bayes_log_loss": [0.01, 0.01],
            "gap_ratio": [1.0, np.nan],
        }
    )
    table = dataset_table(rows).set_index("variant")
    assert table.loc["xgboost", "gap_ratio"] == 1.0  # a failure scores as the prior


def test_an_old_results_file_without_the_new_columns_is_upgraded_and_still_reads(tmp_path):
    config = _config(tmp_path, systems_=("prior",))
    runner.run_benchmark(config)
    path = tmp_path / "out" / runner.RESULTS
    old = pd.read_csv(path).drop(columns=["bayes_log_loss", "gap_ratio"])
    old.to_csv(path, index=False)
    assert not dataset_table(pd.read_csv(path)).empty  # the tables read it as it is
    write_benchmark_report(tmp_path / "out")
    data = _nonlinear_dir(tmp_path)
    results = runner.run_benchmark(
        runner.BenchmarkConfig(
            datasets=["yeast", str(data)],
            systems=["prior"],
            budgets=[],
            seeds=[0],
            cores=1,
            out=tmp_path / "out",
        )
    )
    assert list(results.columns) == runner.RESULT_COLUMNS and len(results) == 2
    assert results.loc[0, "test_log_loss"] == old.loc[0, "test_log_loss"]
    assert np.isnan(results.loc[0, "gap_ratio"]) and results.loc[1, "gap_ratio"] == 1.0
