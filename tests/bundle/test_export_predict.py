"""Acceptance: search -> ensemble -> export -> predict on MoA-layout data with a test split."""

import dataclasses
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import automoa
from automoa.bundle.manifest import MANIFEST
from automoa.cli import app
from automoa.data import make_moa_like
from automoa.data.dataset import Dataset
from automoa.exceptions import BundleError, ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss
from automoa.search.ensembling import stored_ensemble
from automoa.search.study import read_meta

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """A fast-space search over every family on small MoA-like data, then its export."""
    root = tmp_path_factory.mktemp("e2e")
    data = make_moa_like(
        root / "data", rows=320, targets=8, n_genes=40, n_cells=12, n_nonscored=6, seed=3
    )
    outcome = automoa.search(data, budget="5m", space="fast", workdir=root / "work", max_trials=5)
    calls = []
    report = automoa.api.export(
        root / "bundle",
        workdir=root / "work",
        progress=lambda done, total, what: calls.append((done, total)),
    )
    return root, data, outcome, report, calls


def test_search_ensemble_export_predict_end_to_end(searched):
    root, data, outcome, report, calls = searched
    ensemble = outcome.ensemble
    assert ensemble.honest_score <= ensemble.best_single + 1e-12  # the floor
    families = {t.user_attrs["family"] for t in outcome.study.trials if t.value is not None}
    assert {"linear", "xgboost", "mlp", "tabnet"} <= families
    assert [m.trial for m in report.members] == ensemble.members
    assert all(m.source == "retrained" for m in report.members)
    assert all(m.max_abs_diff < 1e-5 for m in report.members)  # parity with the recorded OOF
    assert calls[-1][0] == calls[-1][1] == 5 * len(report.members)

    written = root / "pred.csv"
    result = CliRunner().invoke(
        app,
        [
            "predict",
            "--model",
            str(root / "bundle"),
            "--data",
            str(data / "test_features.csv"),
            "--out",
            str(written),
        ],
    )
    assert result.exit_code == 0, result.output
    predicted = pd.read_csv(written)
    submission = pd.read_csv(ensemble.submission)  # the search's own test predictions
    assert list(predicted.columns) == list(submission.columns)
    assert (predicted["sig_id"] == submission["sig_id"]).all()
    diff = np.abs(predicted.iloc[:, 1:].to_numpy() - submission.iloc[:, 1:].to_numpy())
    assert diff.max() < 1e-5
    controls = pd.read_csv(data / "test_features.csv")["cp_type"] == "ctl_vehicle"
    assert controls.any() and (predicted[controls.to_numpy()].iloc[:, 1:] == 0).all().all()


def test_exported_models_reproduce_the_training_oof(searched):
    """Predicting the training rows fold by fold with the shipped models gives the OOF blend."""
    root, data, outcome, report, _ = searched
    model = automoa.load(root / "bundle")
    dataset = automoa.load_data(data)
    folds = np.asarray(read_meta(outcome.study).folds)
    member_oofs = []
    for fold_models in model.members:
        oof = np.zeros(dataset.Y.shape, dtype=np.float32)
        for fold, fitted in enumerate(fold_models):
            rows = np.flatnonzero((folds == fold) & dataset.trainable_mask)
            oof[rows] = fitted.predict_proba(dataset.X[rows])
        member_oofs.append(oof)
    combined = model.combiner.combine(member_oofs, dataset.known_negative)
    assert mean_columnwise_log_loss(dataset.Y, combined) == pytest.approx(
        report.ensemble.score, rel=1e-5
    )


def test_a_moved_bundle_predicts_identically(searched, tmp_path):
    root, data, *_ = searched
    features = pd.read_csv(data / "test_features.csv")
    before = automoa.load(root / "bundle").predict_proba(features)
    moved = shutil.copytree(root / "bundle", tmp_path / "elsewhere" / "model")
    after = automoa.load(moved).predict_proba(features.sample(frac=1.0, axis=1, random_state=0))
    np.testing.assert_array_equal(before, after)  # column order of the input does not matter


def test_a_flipped_byte_or_a_truncated_file_is_refused(searched, tmp_path):
    root, *_ = searched
    for damage, message in (("flip", "sha256"), ("truncate", "truncated"), ("delete", "missing")):
        bundle = shutil.copytree(root / "bundle", tmp_path / damage)
        member = next((bundle / "members").iterdir())
        raw = bytearray(member.read_bytes())
        if damage == "flip":
            raw[len(raw) // 2] ^= 0x01
            member.write_bytes(bytes(raw))
        elif damage == "truncate":
            member.write_bytes(bytes(raw[:-100]))
        else:
            member.unlink()
        with pytest.raises(BundleError, match=message):
            automoa.load(bundle)
    bundle = shutil.copytree(root / "bundle", tmp_path / "manifest")
    text = (bundle / MANIFEST).read_text()
    assert '"n_rows": 320' in text
    (bundle / MANIFEST).write_text(text.replace('"n_rows": 320', '"n_rows": 321'))
    with pytest.raises(BundleError, match="manifest was modified"):
        automoa.load(bundle)


def test_predict_lists_missing_and_extra_columns(searched):
    root, data, *_ = searched
    model = automoa.load(root / "bundle")
    features = pd.read_csv(data / "test_features.csv")
    wrong = features.drop(columns=["g-3", "cp_dose"]).assign(extra_col=1.0)
    with pytest.raises(DataError) as caught:
        model.predict_proba(wrong)
    message = str(caught.value)
    assert "2 missing" in message and "'g-3'" in message and "'cp_dose'" in message
    assert "1 extra" in message and "'extra_col'" in message


def test_cli_errors_are_one_line_and_nothing_is_overwritten(searched, tmp_path):
    root, data, *_ = searched
    runner = CliRunner()
    bad = tmp_path / "bad.csv"
    pd.read_csv(data / "test_features.csv").drop(columns=["c-0"]).to_csv(bad, index=False)
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(root / "bundle"),
            "--data",
            str(bad),
            "--out",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "missing ('c-0')" in result.output
    assert not (tmp_path / "p.csv").exists()

    existing = tmp_path / "mine.csv"
    existing.write_text("keep me\n")
    result = runner.invoke(
        app,
        [
            "predict",
            "--model",
            str(root / "bundle"),
            "--data",
            str(data / "test_features.csv"),
            "--out",
            str(existing),
        ],
    )
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert existing.read_text() == "keep me\n"

    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["export", "--workdir", str(root / "work"), "--out", str(occupied)])
    assert result.exit_code == 2 and "not an empty directory" in result.output
    assert [p.name for p in occupied.iterdir()] == ["notes.txt"]
    assert not list(tmp_path.glob(".occupied.*"))  # no staging left behind


def test_export_refuses_models_that_do_not_reproduce_the_oof(searched, tmp_path):
    root, *_ = searched
    work = shutil.copytree(root / "work", tmp_path / "work")
    study = automoa.open_study(workdir=work)
    member = study.trials[stored_ensemble(study).members[0]]
    artifacts = next(work.glob("**/artifacts"))
    oof_file = artifacts / member.user_attrs["oof_artifact"]
    halved = np.load(oof_file) * 0.5
    with open(oof_file, "wb") as handle:  # np.save(path) would add a .npy suffix
        np.save(handle, halved)
    with pytest.raises(BundleError, match="reproduce its recorded out-of-fold"):
        automoa.api.export(tmp_path / "bundle", workdir=work)
    assert not (tmp_path / "bundle").exists()
    assert not list(tmp_path.glob(".bundle.*"))


def test_kept_models_are_shipped_without_retraining(tmp_path):
    data = make_moa_like(
        tmp_path / "data", rows=200, targets=5, n_genes=20, n_cells=6, n_nonscored=0, seed=4
    )
    automoa.search(
        data, budget="3m", space="fast", workdir=tmp_path / "w", max_trials=2, keep_models=True
    )
    calls = []
    report = automoa.api.export(
        tmp_path / "b", workdir=tmp_path / "w", progress=lambda *a: calls.append(a)
    )
    assert all(m.source == "kept" for m in report.members) and not calls
    assert all(m.max_abs_diff < 1e-5 for m in report.members)
    features = pd.read_csv(data / "test_features.csv")
    submission = pd.read_csv(report.ensemble.submission)
    predicted = automoa.load(tmp_path / "b").predict_proba(features)
    assert np.abs(predicted - submission.iloc[:, 1:].to_numpy()).max() < 1e-5


def test_every_family_exports_fold_models_that_reproduce_its_oof(searched, tmp_path):
    from automoa.bundle.export import export_member
    from automoa.search.study import resolve_location

    root, data, outcome, *_ = searched
    dataset = automoa.load_data(data)
    location = resolve_location(outcome.study.study_name, root / "work")
    folds = np.asarray(read_meta(outcome.study).folds)
    seen = set()
    for trial in outcome.study.trials:
        if trial.state.name != "COMPLETE" or trial.user_attrs["family"] in seen:
            continue
        seen.add(trial.user_attrs["family"])
        member = export_member(
            trial, location, dataset, folds, tmp_path / f"{trial.number}.npz", tolerance=1.0
        )
        assert member.max_abs_diff < 1e-5, (trial.user_attrs["family"], member.max_abs_diff)
    assert {"linear", "xgboost", "mlp", "tabnet"} <= seen


def _toy(n=240, n_test=30):
    """In-memory data whose trials are miscalibrated enough for a level-2 stage to win."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = (X[:, :3] + 0.5 * rng.normal(size=(n, 3)) > 0.8).astype(np.uint8)
    return Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(6)),
        target_names=("a", "b", "c"),
        ids=np.array([f"r{i}" for i in range(n)]),
        X_test=rng.normal(size=(n_test, 6)).astype(np.float32),
        test_ids=np.array([f"t{i}" for i in range(n_test)]),
        name="toy",
        fingerprint="f" * 64,
    )


def test_a_level2_ensemble_is_exported_and_predicts_like_the_search(tmp_path):
    data = _toy()
    outcome = automoa.search(data, budget="2m", space="fast", workdir=tmp_path, max_trials=4)
    ensemble = outcome.ensemble
    assert ensemble.method in ("calibration", "stacking")  # the level-2 stage won here
    # Data built in memory records no files: export needs it given.
    with pytest.raises(ConfigError, match="does not record where its data is"):
        automoa.api.export(tmp_path / "nope", workdir=tmp_path)
    report = automoa.api.export(tmp_path / "model", workdir=tmp_path, data=data)
    model = automoa.load(tmp_path / "model")
    assert "stacker.npz" in model.manifest["files"]
    assert model.manifest["combiner"]["method"] == ensemble.method
    assert model.combiner.stacker is not None
    frame = pd.DataFrame(data.X_test, columns=data.feature_names)
    predicted = model.predict_proba(frame)
    submission = pd.read_csv(ensemble.submission)
    assert np.abs(predicted - submission.iloc[:, 1:].to_numpy()).max() < 1e-5
    assert [m.trial for m in report.members] == ensemble.members


@pytest.fixture(scope="module")
def toy_study(tmp_path_factory):
    root = tmp_path_factory.mktemp("level2")
    data = _toy()
    automoa.search(data, budget="2m", space="fast", workdir=root, max_trials=4, ensemble=False)
    return root, data


@pytest.mark.parametrize("kind", ["calibration", "stacking", "cross_label"])
def test_every_level2_kind_exports_a_bundle_that_reproduces_the_submission(
    toy_study, kind, monkeypatch
):
    from automoa.ensemble import pipeline
    from automoa.ensemble.level2 import Level2Stage
    from automoa.ensemble.variants import standard_variants

    root, data = toy_study
    honest = Level2Stage.honest
    honest_variant = pipeline._honest_variant

    def winning(self, *args, **kwargs):
        # The stage's real nested estimate, made to win: its final fit is what is exported.
        nested = honest(self, *args, **kwargs)
        return dataclasses.replace(nested, score=-2.0) if self.name == kind else nested

    def several_members(variant, *args, **kwargs):
        # Greedy selection from the best 3 made to win, so that there are members to stack.
        result = honest_variant(variant, *args, **kwargs)
        return dataclasses.replace(result, score=-1.0) if variant.name == "greedy_init" else result

    def with_greedy_init(groups, **options):
        # greedy_init is not a default variant; this test needs its three members.
        return standard_variants(groups, **{**options, "init_best": 3})

    monkeypatch.setattr(Level2Stage, "honest", winning)
    monkeypatch.setattr(pipeline, "_honest_variant", several_members)
    monkeypatch.setattr(pipeline, "standard_variants", with_greedy_init)
    ensemble = automoa.api.ensemble(data, workdir=root, clipping=False)
    assert ensemble.method == kind and ensemble.selection == "greedy_init"
    assert len(ensemble.members) >= 2
    automoa.api.export(root / f"model-{kind}", workdir=root, data=data)
    model = automoa.load(root / f"model-{kind}")
    assert model.manifest["combiner"]["method"] == kind
    frame = pd.DataFrame(data.X_test, columns=data.feature_names)
    submission = pd.read_csv(ensemble.submission)
    assert np.abs(model.predict_proba(frame) - submission.iloc[:, 1:].to_numpy()).max() < 1e-5
