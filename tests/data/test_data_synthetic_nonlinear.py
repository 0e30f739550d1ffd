"""make_moa_like(mode="nonlinear"): layout, determinism, MoA statistics, true probabilities."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automoa.data import Dataset, load, make_moa_like
from automoa.data.synthetic import TRUE_PROBABILITY_FILES
from automoa.data.synthetic_nonlinear import LatentModel
from automoa.exceptions import ConfigError

SMALL = {"rows": 300, "targets": 20, "n_genes": 30, "n_cells": 8, "n_nonscored": 12}
# MoA's 206 targets at 2,000 rows, narrower features to stay fast
MEDIUM = {"rows": 2000, "targets": 206, "n_genes": 120, "n_cells": 20, "n_nonscored": 60}


def _true(out: Path, split: str, ids: np.ndarray) -> np.ndarray:
    frame = pd.read_csv(out / f"true_probabilities_{split}.csv", dtype={"sig_id": str})
    return frame.set_index("sig_id").loc[ids].to_numpy()


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset, np.ndarray]:
    out = make_moa_like(tmp_path_factory.mktemp("nl") / "moa", mode="nonlinear", seed=3, **MEDIUM)
    data = load(out)
    return out, data, _true(out, "train", data.ids)


def test_the_layout_is_the_linear_one_plus_the_true_probabilities(tmp_path: Path) -> None:
    linear = make_moa_like(tmp_path / "linear", seed=1, **SMALL)
    nonlinear = make_moa_like(tmp_path / "nonlinear", seed=1, mode="nonlinear", **SMALL)
    names = {p.name for p in linear.iterdir()}
    assert {p.name for p in nonlinear.iterdir()} == names | set(TRUE_PROBABILITY_FILES)
    for name in names:
        header = (linear / name).read_text().split("\n", 1)[0]
        assert (nonlinear / name).read_text().split("\n", 1)[0] == header, name
    scored = pd.read_csv(nonlinear / "train_targets_scored.csv", nrows=1).columns
    for split, file in zip(("train", "test"), ("train_features", "test_features"), strict=True):
        true = pd.read_csv(nonlinear / f"true_probabilities_{split}.csv")
        assert list(true.columns) == list(scored)
        features = pd.read_csv(nonlinear / f"{file}.csv", usecols=["sig_id"])
        assert list(true["sig_id"]) == list(features["sig_id"])
        values = true.iloc[:, 1:].to_numpy()
        assert ((values >= 0) & (values < 1)).all()


def test_the_same_seed_writes_the_same_bytes(tmp_path: Path) -> None:
    a = make_moa_like(tmp_path / "a", seed=5, mode="nonlinear", **SMALL)
    b = make_moa_like(tmp_path / "b", seed=5, mode="nonlinear", **SMALL)
    c = make_moa_like(tmp_path / "c", seed=6, mode="nonlinear", **SMALL)
    for path in a.iterdir():
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name
    assert (a / "train_features.csv").read_bytes() != (c / "train_features.csv").read_bytes()


def test_statistics_follow_moa(medium: tuple[Path, Dataset, np.ndarray]) -> None:
    _, ds, _ = medium
    assert ds.n_labels == 206 and ds.X_test.shape[0] == round(2000 * 3982 / 23814)
    assert 0.07 < ds.known_negative.mean() < 0.09
    assert ds.Y[ds.known_negative].sum() == 0 and ds.Y_aux[ds.known_negative].sum() == 0
    positives = ds.Y.sum(axis=0)
    # heavy-tailed: many rare targets (at 2,000 rows some draw no positive at all), a few large
    assert (positives == 0).sum() < 0.6 * ds.n_labels and (positives <= 50).sum() >= 150
    assert ((positives >= 1) & (positives <= 6)).sum() >= 10 and positives.max() >= 40
    assert 0.0025 <= ds.Y.mean() <= 0.0045
    per_row = ds.Y.sum(axis=1)[~ds.known_negative]
    assert (per_row == 0).any() and (per_row == 1).sum() > 2 * (per_row >= 2).sum()
    aux = ds.Y_aux.sum(axis=0)
    assert (aux == 0).sum() >= 5 and (aux > 0).sum() >= 3  # 0.04% of 2,000 rows: mostly 0
    sizes = np.array(list(Counter(ds.groups.tolist()).values()))
    assert Counter(sizes.tolist()).most_common(1)[0][0] == 6


def test_labels_and_true_probabilities_belong_to_the_drug(
    medium: tuple[Path, Dataset, np.ndarray],
) -> None:
    _, ds, true = medium
    treated = ~ds.known_negative
    for drug in np.unique(ds.groups[treated])[:200]:
        rows = np.flatnonzero(ds.groups == drug)
        assert (ds.Y[rows] == ds.Y[rows[0]]).all()
        assert (true[rows] == true[rows[0]]).all()
    assert (true[ds.known_negative] == 0).all()
    # the labels were drawn from these probabilities: counts agree with their sums (within the
    # spread of draws of whole drugs, up to 3% of the rows each)
    assert abs(true.sum() - ds.Y.sum()) < 0.25 * true.sum()
    frequent = ds.Y.sum(axis=0) >= 30
    assert np.corrcoef(true[:, frequent].ravel(), ds.Y[:, frequent].ravel())[0, 1] > 0.3


def test_the_loader_ignores_the_true_probability_files(
    medium: tuple[Path, Dataset, np.ndarray], tmp_path: Path
) -> None:
    out, ds, _ = medium
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in out.iterdir():
        if path.name not in TRUE_PROBABILITY_FILES:
            (bare / path.name).symlink_to(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        again = load(out)
    assert not [w for w in caught if "true_probabilities" in str(w.message)]
    assert again.fingerprint == load(bare).fingerprint == ds.fingerprint
    assert "true" not in " ".join(again.feature_names)


def test_a_directory_holding_true_probabilities_is_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "moa").mkdir()
    (tmp_path / "moa" / "true_probabilities_train.csv").write_text("keep")
    with pytest.raises(ConfigError, match=r"already holds true_probabilities_train\.csv"):
        make_moa_like(tmp_path / "moa", mode="nonlinear", **SMALL)
    assert (tmp_path / "moa" / "true_probabilities_train.csv").read_text() == "keep"


def test_an_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mode must be one of linear, nonlinear"):
        make_moa_like(tmp_path / "moa", mode="cubic", **SMALL)
    assert not (tmp_path / "moa").exists()


def test_label_logits_are_not_linear_in_the_latent_drug_state() -> None:
    # Features are linear views of the state, so a model linear in the features is at best
    # linear in the state: the best such fit must miss much of the labels' logits.
    rng = np.random.default_rng(0)
    model = LatentModel(rng, 206, 0, 120, 20)
    z = model.states(rng, 4000)
    logits = np.stack([label.logit(z) for label in model.labels], axis=1)
    design = np.hstack([np.ones((len(z), 1)), z])
    fitted = design @ np.linalg.lstsq(design, logits, rcond=None)[0]
    r2 = 1 - ((logits - fitted) ** 2).sum(axis=0) / ((logits - logits.mean(0)) ** 2).sum(axis=0)
    assert (r2 < 0.1).mean() > 0.25  # sign interactions and magnitudes: no linear trace at all
    assert np.median(r2) < 0.8 and r2.max() > 0.9  # the few linear labels are linear
