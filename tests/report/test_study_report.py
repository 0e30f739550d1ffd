"""``automoa report``: the HTML + Markdown report of a study, on a small real study."""

from __future__ import annotations

import base64
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
import pytest
from typer.testing import CliRunner

import automoa
from automoa import api
from automoa.cli import app
from automoa.data import make_moa_like
from automoa.exceptions import ConfigError, DataError, StudyError
from automoa.report.study_facts import family_importances, key_params, short_param_name
from automoa.report.study_report import write_report
from automoa.search.ensembling import stored_combiner, stored_ensemble
from automoa.search.study import resolve_location, search_runs

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHROMIUM = Path("/usr/bin/chromium")
PLOTS = {"history", "importances", "label_loss", "time"}
# Small and quick: three families, two of them with two searched parameters.
SPACE = """
name: tiny
preprocessing:
  - step: quantile
    optional: false
    params: {n_quantiles: 50, output_distribution: normal}
models:
  linear:
    params:
      C: {type: float, low: 1.0e-3, high: 1.0, log: true, default: 0.03}
      class_weight: none
      max_iter: {type: int, low: 20, high: 100, log: true, default: 40}
  xgboost:
    params:
      n_estimators: 20
      learning_rate: {type: float, low: 0.05, high: 0.3, log: true, default: 0.15}
      max_depth: {type: int, low: 2, high: 3, default: 2}
      min_child_weight: 5.0
      subsample: 0.8
      colsample_bytree: 0.5
      max_bin: 32
      multi_strategy: one_output_per_tree
      early_stopping_rounds: 5
  mlp:
    params:
      n_layers: 1
      hidden_size: {type: int, low: 32, high: 128, log: true, default: 64}
      dropout: {type: float, low: 0.1, high: 0.4, default: 0.2}
      input_dropout: 0.0
      lr: {type: float, low: 1.0e-3, high: 1.0e-2, log: true, default: 3.0e-3}
      weight_decay: 1.0e-5
      epochs: 4
      batch_size: 128
      patience: 2
      aux: none
losses:
  bce: {}
"""
runner = CliRunner()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A searched study with an ensemble ("main") on MoA-like data with rare labels."""
    root = tmp_path_factory.mktemp("report")
    data_dir = make_moa_like(
        root / "data", rows=1200, targets=24, n_genes=60, n_cells=20, n_nonscored=0
    )
    space = root / "tiny.yaml"
    space.write_text(SPACE)
    workdir = root / "work"
    outcome = automoa.search(
        data_dir, budget="5m", space=space, workdir=workdir, study="main", max_trials=20, folds=3
    )
    assert outcome.ensemble is not None
    return SimpleNamespace(
        root=root, data_dir=data_dir, space=space, workdir=workdir, study=outcome.study
    )


@pytest.fixture(scope="module")
def written(built):
    return api.report(built.root / "report", study="main", workdir=built.workdir)


def small_study(built, name, **options):
    """Another study on the same data and workdir: a few trials, no ensemble."""
    automoa.search(
        built.data_dir,
        budget="1m",
        space=built.space,
        workdir=built.workdir,
        study=name,
        max_trials=3,
        folds=3,
        ensemble=False,
        **options,
    )
    return automoa.open_study(name, workdir=built.workdir)


def _unescape(cell: str) -> str:
    return re.sub(r"\\(.)", r"\1", cell.strip())


def md_tables(markdown: str, heading: str) -> list[list[list[str]]]:
    """The tables of the section ``## heading``: each a list of rows (header first)."""
    section = markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    tables, current = [], []
    for line in [*section.splitlines(), ""]:
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip()[1:-1])
            if not set(line) <= set("|-: "):  # not the alignment row
                current.append([_unescape(c) for c in cells])
        elif current:
            tables.append(current)
            current = []
    return tables


def md_section(markdown: str, heading: str) -> str:
    return _unescape(markdown.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0])


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action"):
                self.refs.append((tag, name, value or ""))
            if tag == "img" and name == "src":
                self.images.append(value or "")


def test_report_is_self_contained_and_markdown_links_its_plots(written):
    assert written.html.is_file() and written.markdown.is_file()
    assert set(written.plots) == PLOTS
    for path in written.plots.values():
        assert path.is_file() and path.read_bytes().startswith(PNG_SIGNATURE)
        assert path.parent == written.html.parent
    page = written.html.read_text(encoding="utf-8")
    refs = _Refs()
    refs.feed(page)
    assert len(refs.images) == len(written.plots)
    for src in refs.images:
        prefix = "data:image/png;base64,"
        assert src.startswith(prefix)
        assert base64.b64decode(src[len(prefix) :], validate=True).startswith(PNG_SIGNATURE)
    # Nothing but embedded images and in-page anchors: no file, URL, script or stylesheet link.
    for tag, name, value in refs.refs:
        assert ((tag, name) == ("img", "src") and value.startswith("data:")) or (
            tag == "a" and name == "href" and value.startswith("#")
        ), (tag, name, value)
    assert not {"script", "link", "iframe", "object", "embed"} & set(refs.tags)
    assert "url(" not in page and "@import" not in page
    markdown = written.markdown.read_text(encoding="utf-8")
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)
    assert sorted(linked) == sorted(p.name for p in written.plots.values())
    for link in linked:
        assert (written.markdown.parent / link).is_file() and link.endswith(".png")


def test_leaderboard_lists_the_best_trial_first(built, written):
    markdown = written.markdown.read_text(encoding="utf-8")
    (table,) = md_tables(markdown, "Leaderboard")
    header, rows = table[0], table[1:]
    assert header[:4] == ["rank", "trial", "family", "CV log loss ± fold std"]
    best = built.study.best_trial
    assert rows[0][:3] == ["1", str(best.number), best.user_attrs["family"]]
    assert rows[0][3] == f"{best.value:.5f} ± {best.user_attrs['cv_std']:.5f}"
    complete = sorted(
        (t for t in built.study.trials if t.state == optuna.trial.TrialState.COMPLETE),
        key=lambda t: (t.value, t.number),
    )
    assert [int(r[1]) for r in rows] == [t.number for t in complete[:20]]
    assert [r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)]
    # Key parameters: the family prefix is gone, numbers have 3 significant digits.
    assert "model." not in markdown and "model.family" not in rows[0][5]
    assert rows[0][5] == key_params(best.params)


def test_ensemble_tables_match_the_stored_ensemble(built, written):
    ensemble = stored_ensemble(built.study)
    tables = md_tables(written.markdown.read_text(encoding="utf-8"), "Ensemble")
    members = next(t for t in tables if t[0][0] == "member trial")
    assert [(int(r[0]), r[1], r[2]) for r in members[1:]] == [
        (n, f, f"{w:.3f}")
        for n, f, w in zip(ensemble.members, ensemble.families, ensemble.weights, strict=True)
    ]
    for row in members[1:]:
        assert row[3] == f"{built.study.trials[int(row[0])].value:.5f}"
    stages = next(t for t in tables if t[0][0] == "stage")
    assert [r[0] for r in stages[1:]] == [s["stage"] for s in ensemble.stages]
    assert [r[2] for r in stages[1:]] == ["yes" if s["kept"] else "no" for s in ensemble.stages]
    facts = md_section(written.markdown.read_text(encoding="utf-8"), "Summary")
    assert f"{ensemble.honest_score:.5f} ({ensemble.method}" in facts


def test_per_label_losses_agree_with_a_direct_computation(built, written):
    dataset = automoa.load_data(built.data_dir)
    location = resolve_location("main", built.workdir)
    ensemble = stored_ensemble(built.study)
    artifacts = location.open_artifacts()
    oofs = [
        np.load(artifacts.local_path(built.study.trials[n].user_attrs["oof_artifact"]))
        for n in ensemble.members
    ]
    blend = stored_combiner(built.study, location).combine(oofs, dataset.known_negative)

    def loss(j: int) -> float:
        p = np.clip(blend[:, j].astype(np.float64), 1e-15, 1 - 1e-15)
        y = dataset.Y[:, j].astype(np.float64)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    losses = np.array([loss(j) for j in range(dataset.Y.shape[1])])
    # The report's blend is the stored ensemble's: its mean is the ensemble's (all-rows) score.
    assert losses.mean() == pytest.approx(ensemble.score, rel=1e-9)
    (table,) = md_tables(written.markdown.read_text(encoding="utf-8"), "The 20 worst labels")
    rows = table[1:]
    assert len(rows) == 20
    names = list(dataset.target_names)
    first = names.index(rows[0][1])
    assert first == int(np.argmax(losses))
    for row in (rows[0], rows[7]):
        j = names.index(row[1])
        assert row[2] == str(int(dataset.Y[:, j].sum()))
        assert float(row[3]) == pytest.approx(losses[j], abs=5e-6)
        assert row[4] == f"{100 * losses[j] / losses.sum():.1f}%"
    listed = [float(r[3]) for r in rows]
    assert listed == sorted(listed, reverse=True)
    section = md_section(written.markdown.read_text(encoding="utf-8"), "Log loss per label")
    assert "of the ensemble" in section


def test_importances_are_computed_per_family(built, written):
    importances, notes = family_importances(built.study.trials)
    counts = {}
    for trial in built.study.trials:
        if trial.state == optuna.trial.TrialState.COMPLETE:
            family = trial.user_attrs["family"]
            counts[family] = counts.get(family, 0) + 1
    assert set(importances) | set(notes) == set(counts)
    assert importances, "at least one family has enough trials"
    for family, scores in importances.items():
        assert counts[family] >= 5
        assert sum(scores.values()) == pytest.approx(1.0)
        assert not any(name.startswith(("model.", family)) for name in scores)
    for family, note in notes.items():
        assert counts[family] < 5 and note.startswith("not enough trials")
    (table,) = md_tables(written.markdown.read_text(encoding="utf-8"), "Parameter importances")
    by_family = {r[0]: r for r in table[1:]}
    assert set(by_family) == set(counts)
    for family in notes:
        assert by_family[family][2].startswith("not enough trials")


def test_report_is_deterministic(built, written, tmp_path):
    again = api.report(tmp_path / "again", study="main", workdir=built.workdir)
    assert again.markdown.read_text() == written.markdown.read_text()
    assert again.html.read_bytes() == written.html.read_bytes()  # the PNGs are embedded
    for name, path in again.plots.items():
        assert path.read_bytes() == written.plots[name].read_bytes()


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_running_study_without_ensemble(built, tmp_path):
    live = small_study(built, "live")
    trial = live.ask()  # RUNNING, never told: no value, no "seconds"
    live.enqueue_trial({"model.family": "linear", "model.linear.C": 0.01})
    files = api.report(tmp_path / "out", study="live", workdir=built.workdir)
    states = {t.state.name for t in live.get_trials(deepcopy=False)}
    assert {"RUNNING", "WAITING", "COMPLETE"} <= states
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "No ensemble is stored with this study yet" in md_section(markdown, "Ensemble")
    assert "1 running trial not counted yet" in md_section(markdown, "Time spent")
    assert "running or queued" in md_section(markdown, "Optimisation history")
    labels = md_section(markdown, "Log loss per label")
    assert "of the best trial" in labels and "no ensemble yet" in labels
    assert {"history", "label_loss", "time"} <= set(files.plots)
    live.tell(trial, state=optuna.trial.TrialState.FAIL)


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")
def test_study_without_finished_trials(built, tmp_path):
    empty = optuna.create_study(
        storage=f"sqlite:///{built.workdir / 'automoa.db'}", study_name="empty"
    )
    empty.set_user_attr("automoa", built.study.user_attrs["automoa"])  # as a new study's
    for c in (0.01, 0.1):
        empty.enqueue_trial({"model.family": "linear", "model.linear.C": c})
    empty.ask()  # one running, one queued, none finished
    files = api.report(tmp_path / "out", study="empty", workdir=built.workdir, data=built.data_dir)
    assert files.plots == {}
    markdown = files.markdown.read_text(encoding="utf-8")
    assert "2 (1 running, 1 waiting)" in md_section(markdown, "Summary")
    assert "no complete trial yet" in md_section(markdown, "Summary")
    assert "No complete trial yet" in md_section(markdown, "Leaderboard")
    assert "need a complete trial" in md_section(markdown, "Log loss per label")
    assert "No finished trial yet" in md_section(markdown, "Time spent")
    assert "<img" not in files.html.read_text(encoding="utf-8")
    assert "not recorded" in md_section(markdown, "Budget used")


def test_missing_data_leaves_out_the_label_sections_with_a_note(built, tmp_path):
    moved = built.root / "data-moved"
    built.data_dir.rename(moved)
    try:
        files = api.report(tmp_path / "moved", study="main", workdir=built.workdir)
    finally:
        moved.rename(built.data_dir)
    markdown = files.markdown.read_text(encoding="utf-8")
    note = md_section(markdown, "Log loss per label")
    assert "need the study's data, which could not be loaded" in note
    assert str(built.data_dir) in note  # the reason names the missing files
    assert "label_loss" not in files.plots
    assert "Left out" in md_section(markdown, "The 20 worst labels")
    assert {"history", "importances", "time"} <= set(files.plots)


def test_study_without_a_data_record(built, tmp_path):
    study = small_study(built, "norecord")
    study.set_user_attr("automoa_data", None)  # as a study from an in-memory Dataset
    files = api.report(tmp_path / "out", study="norecord", workdir=built.workdir)
    note = md_section(files.markdown.read_text(encoding="utf-8"), "Log loss per label")
    assert "does not record where its data is" in note
    # Given explicitly, the data is used (and must be the study's).
    files = api.report(
        tmp_path / "given", study="norecord", workdir=built.workdir, data=built.data_dir
    )
    assert "label_loss" in files.plots
    with pytest.raises(DataError):
        api.report(tmp_path / "bad", study="norecord", workdir=built.workdir, data=tmp_path)
    other = make_moa_like(tmp_path / "other", rows=300, targets=5, n_genes=10, n_cells=5, seed=1)
    with pytest.raises(StudyError, match="created on other data"):
        api.report(tmp_path / "other-out", study="norecord", workdir=built.workdir, data=other)


def test_out_holding_a_report_is_refused_unless_overwrite(built, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("old report")
    (out / "notes.txt").write_text("mine")
    message = (
        f"--out {out}: already holds report.html; choose another directory or pass --overwrite"
    )
    with pytest.raises(ConfigError) as caught:
        api.report(out, study="main", workdir=built.workdir)
    assert str(caught.value) == message
    assert (out / "report.html").read_text() == "old report"
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.html"]
    result = runner.invoke(
        app, ["report", "--study", "main", "--workdir", str(built.workdir), "--out", str(out)]
    )
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"error: {message}"]
    assert (out / "report.html").read_text() == "old report"
    files = api.report(out, study="main", workdir=built.workdir, overwrite=True)
    assert files.html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert (out / "notes.txt").read_text() == "mine"
    assert not [p for p in out.iterdir() if p.name.endswith(".tmp")]


def test_out_holding_any_file_the_report_writes_is_refused(built, tmp_path):
    for name in ("report.md", "history.png", "time.png"):
        out = tmp_path / name.replace(".", "_")
        out.mkdir()
        (out / name).write_text("mine")
        with pytest.raises(ConfigError, match=f"already holds {re.escape(name)}"):
            api.report(out, study="main", workdir=built.workdir)
        assert [p.name for p in out.iterdir()] == [name] and (out / name).read_text() == "mine"
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "report.md").symlink_to(tmp_path / "elsewhere.md")  # dangling
    with pytest.raises(ConfigError, match=r"report\.md is a symbolic link"):
        api.report(linked, study="main", workdir=built.workdir, overwrite=True)
    assert (linked / "report.md").is_symlink() and not (tmp_path / "elsewhere.md").exists()


def test_write_report_refuses_a_file_in_the_way(built, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    location = resolve_location("main", built.workdir)
    with pytest.raises(ConfigError, match=r"--out .*: is a file; expected a directory"):
        write_report(built.study, blocker, location=location, dataset=None)


def test_cli_writes_the_report_and_prints_its_paths(built, tmp_path):
    out = tmp_path / "cli"
    result = runner.invoke(
        app,
        [
            "report",
            "--study",
            "main",
            "--workdir",
            str(built.workdir),
            "--out",
            str(out),
            "--data",
            str(built.data_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    printed = result.output
    for name in ("report.html", "report.md", *(f"{p}.png" for p in PLOTS)):
        assert str(out / name) in printed and (out / name).is_file()


def test_cli_missing_study_is_one_error_line(built, tmp_path):
    args = ["--study", "nope", "--workdir", str(built.workdir), "--out", str(tmp_path / "x")]
    result = runner.invoke(app, ["report", *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --study: no study named 'nope'")
    assert not (tmp_path / "x").exists()


def test_budget_table_lists_each_recorded_search_run(built, written):
    markdown = written.markdown.read_text(encoding="utf-8")
    recorded = search_runs(built.study)
    assert recorded  # the fixture's search recorded itself
    (table,) = md_tables(markdown, "Budget used")
    assert len(table) == len(recorded) + 2  # header, runs, total
    assert table[1][5] == recorded[0].stopped_by
    assert table[1][7] == str(recorded[0].trials_run)


def test_short_names_and_key_params():
    assert short_param_name("model.linear.C") == "C"
    assert short_param_name("loss.name") == "loss"
    assert short_param_name("loss.focal.gamma") == "focal.gamma"
    assert short_param_name("model.tabnet.gamma") == "gamma"
    assert short_param_name("prep.pca_genes.enabled") == "pca_genes"
    assert short_param_name("prep.pca_genes.n_components") == "pca_genes.n_components"
    params = {
        "model.family": "mlp",
        "model.mlp.lr": 0.0031234,
        "model.mlp.hidden_size": 512,
        "loss.name": "bce",
        "prep.quantile.enabled": True,
        "prep.pca.enabled": False,
        "prep.pca.n_components": 50,
        "model.mlp.dropout": 0.25,
    }
    assert key_params(params) == (
        "dropout=0.25, hidden_size=512, lr=0.00312, loss=bce, pca=off, pca.n_components=50, +1 more"
    )


@pytest.mark.slow
def test_report_of_a_postgresql_study(built, postgres_url, tmp_path):
    artifacts = tmp_path / "artifacts"
    automoa.search(
        built.data_dir,
        budget="1m",
        space=built.space,
        storage=postgres_url,
        artifacts=artifacts,
        workdir=tmp_path / "work",
        study="pg",
        max_trials=3,
        folds=3,
    )
    files = api.report(tmp_path / "out", study="pg", storage=postgres_url, artifacts=str(artifacts))
    assert {"history", "label_loss", "time"} <= set(files.plots)
    assert "of the ensemble" in md_section(
        files.markdown.read_text(encoding="utf-8"), "Log loss per label"
    )


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium (``apt-get install -y chromium``); as PostgreSQL in ``conftest.py``:
    CI installs it and sets ``AUTOMOA_REQUIRE_BROWSER=1``, so there the test never skips."""
    if not CHROMIUM.exists():
        if os.environ.get("AUTOMOA_REQUIRE_BROWSER"):
            pytest.fail(f"AUTOMOA_REQUIRE_BROWSER is set but {CHROMIUM} is not installed")
        pytest.skip("Chromium is not installed here (.ci/run installs it for CI)")
    return CHROMIUM


CHECK_SCRIPT = """
<pre id="img-check">pending</pre>
<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var ok = images.filter(function (img) { return img.complete && img.naturalWidth > 0; });
  var broken = images.filter(function (img) { return !(img.complete && img.naturalWidth > 0); });
  document.getElementById("img-check").textContent = "loaded=" + ok.length + " total="
    + images.length + " broken=" + broken.map(function (img) { return img.id || "?"; }).join(",");
});
</script>
"""


@pytest.mark.slow
def test_report_images_load_in_a_real_browser(chromium, written, tmp_path):
    page = written.html.read_text(encoding="utf-8")
    # A deliberately broken image shows that the check can fail.
    control = '<img id="control" src="data:image/png;base64,AAAA" alt="control">'
    copy = tmp_path / "check.html"
    copy.write_text(page.replace("</body>", control + CHECK_SCRIPT + "</body>"), encoding="utf-8")
    result = subprocess.run(
        [
            str(chromium),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            "--virtual-time-budget=10000",
            copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"loaded=(\d+) total=(\d+) broken=([^<]*)", result.stdout)
    assert found, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    loaded, total = int(found[1]), int(found[2])
    assert found[3] == "control"
    assert loaded == total - 1 >= len(written.plots) == len(PLOTS)


def _conditional_study() -> optuna.Study:
    """Two families with their own parameters, one with a conditional loss parameter."""

    def objective(trial: optuna.Trial) -> float:
        family = trial.suggest_categorical("model.family", ["a", "b"])
        if family == "a":
            x = trial.suggest_float("model.a.x", 0.0, 1.0)
            y = trial.suggest_int("model.a.y", 1, 5)
            loss = trial.suggest_categorical("loss.name", ["bce", "focal"])
            gamma = trial.suggest_float("loss.focal.gamma", 0.5, 3.0) if loss == "focal" else 0
            return 3 * x + 0.01 * y + 0.1 * gamma
        return trial.suggest_float("model.b.z", 0.0, 1.0)

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=30)
    return study


def test_family_importances_on_a_conditional_space(monkeypatch):
    study = _conditional_study()
    importances, notes = family_importances(study.trials)
    assert set(importances) == {"a"}
    # The conditional parameter is not in every trial of the family: left out.
    assert set(importances["a"]) == {"x", "y", "loss"}
    assert max(importances["a"], key=importances["a"].get) == "x"
    assert notes == {"b": notes["b"]} and "a single searched parameter" in notes["b"]
    assert family_importances(study.trials) == (importances, notes)  # seeded: deterministic

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(optuna.importance, "get_param_importances", broken)
    importances, notes = family_importances(study.trials)
    assert importances == {} and notes["a"] == "failed: RuntimeError: boom"
