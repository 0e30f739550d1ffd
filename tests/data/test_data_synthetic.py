"""make_moa_like: layout, MoA statistics, determinism, loading."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automoa.data import Dataset, load, make_moa_like, make_moa_like_dataset
from automoa.exceptions import ConfigError

MOA_FILES = {
    "train_features.csv",
    "train_targets_scored.csv",
    "train_targets_nonscored.csv",
    "train_drug.csv",
    "test_features.csv",
    "sample_submission.csv",
}
SMALL = {"rows": 300, "targets": 20, "n_genes": 30, "n_cells": 8, "n_nonscored": 12}


@pytest.fixture(scope="module")
def moa_2k(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Dataset]:
    """The default synthetic set (2,000 rows, full MoA width), written once and loaded."""
    out = make_moa_like(tmp_path_factory.mktemp("moa") / "moa_like")
    return out, load(out)


def test_full_layout_is_written(moa_2k: tuple[Path, Dataset]) -> None:
    out, _ = moa_2k
    assert {p.name for p in out.iterdir()} == MOA_FILES
    header = (out / "train_features.csv").read_text().split("\n", 1)[0].split(",")
    assert header[:4] == ["sig_id", "cp_type", "cp_time", "cp_dose"]
    assert header[4] == "g-0" and header[775] == "g-771" and header[776] == "c-0"
    assert header[-1] == "c-99" and len(header) == 876
    raw = pd.read_csv(out / "train_features.csv", usecols=["sig_id", "cp_type", "cp_time"])
    assert raw["sig_id"].str.fullmatch(r"id_[0-9a-f]{9}").all()
    assert set(raw["cp_time"]) == {24, 48, 72}
    scored = pd.read_csv(out / "train_targets_scored.csv", nrows=1)
    assert scored.shape[1] == 207
    assert pd.read_csv(out / "train_targets_nonscored.csv", nrows=1).shape[1] == 403
    submission = pd.read_csv(out / "sample_submission.csv")
    assert (
        list(submission.columns) == list(scored.columns)
        and (submission.iloc[:, 1:] == 0.5).all().all()
    )


def test_statistics_follow_moa(moa_2k: tuple[Path, Dataset]) -> None:
    _, ds = moa_2k
    assert ds.n_rows == 2000 and ds.n_features == 876 and ds.n_labels == 206
    assert ds.X_test.shape[0] == round(2000 * 3982 / 23814)
    # controls: ~7.8%, all labels and auxiliary labels 0
    assert 0.07 < ds.known_negative.mean() < 0.09
    assert ds.Y[ds.known_negative].sum() == 0 and ds.Y_aux[ds.known_negative].sum() == 0
    positives = ds.Y.sum(axis=0)
    assert positives.min() == 1 and (positives == 1).any()
    assert (positives < 20).sum() >= 5 and positives.max() >= 30
    assert 0.003 <= ds.Y.mean() <= 0.004
    # every treated row has 0, 1 or a few labels; most labelled rows have exactly one
    per_row = ds.Y.sum(axis=1)
    assert per_row.max() <= 6 and (per_row == 1).sum() > (per_row >= 2).sum()
    assert (per_row[~ds.known_negative] == 0).any()
    # auxiliary targets: some never positive, some positive
    aux = ds.Y_aux.sum(axis=0)
    assert (aux == 0).sum() >= 20 and (aux > 0).sum() >= 200


def test_drugs_have_one_label_set_and_moa_sizes(moa_2k: tuple[Path, Dataset]) -> None:
    _, ds = moa_2k
    sizes = Counter(ds.groups.tolist())
    size_values = np.array(list(sizes.values()))
    # at 2,000 rows many labels have 1-5 positives, so many drugs are small; 6 stays the mode
    assert np.median(size_values) == 6 and Counter(size_values.tolist()).most_common(1)[0][0] == 6
    control_drugs = set(ds.groups[ds.known_negative])
    assert len(control_drugs) == 1 and sizes[control_drugs.pop()] == ds.known_negative.sum()
    treated_sizes = [s for g, s in sizes.items() if not ds.known_negative[ds.groups == g].any()]
    assert max(treated_sizes) >= 40  # a few large drugs (hundreds at full scale)
    label_sets = {}
    for group, row in zip(ds.groups, ds.Y, strict=True):
        assert label_sets.setdefault(group, row.tobytes()) == row.tobytes()
    distinct = len(set(label_sets.values()))
    assert distinct < len(label_sets) / 1.5  # a small pool of label sets shared by drugs
    # each 6-row drug spans the 3 times x 2 doses
    six = next(g for g, s in sizes.items() if s == 6)
    combos = ds.X[ds.groups == six][:, :4]
    assert len({tuple(r) for r in combos}) == 6


def test_features_carry_label_signal(moa_2k: tuple[Path, Dataset]) -> None:
    _, ds = moa_2k
    treated = ~ds.known_negative
    j = int(np.argmax(ds.Y.sum(axis=0)))
    genes = ds.X[:, [i for i, n in enumerate(ds.feature_names) if n.startswith("g-")]]
    pos, neg = ds.Y[:, j] == 1, (ds.Y[:, j] == 0) & treated
    gap = np.abs(genes[pos].mean(axis=0) - genes[neg].mean(axis=0)) / genes[neg].std(axis=0)
    assert (gap > 0.3).sum() >= 3  # the label's gene signature stands out of the noise
    cells = ds.X[:, [i for i, n in enumerate(ds.feature_names) if n.startswith("c-")]]
    corr = np.corrcoef(cells[:, :10], rowvar=False)
    assert corr[np.triu_indices(10, 1)].mean() > 0.5  # viability columns move together


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    a = make_moa_like(tmp_path / "a", seed=7, **SMALL)
    b = make_moa_like(tmp_path / "b", seed=7, **SMALL)
    c = make_moa_like(tmp_path / "c", seed=8, **SMALL)
    for name in MOA_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert (a / "train_features.csv").read_bytes() != (c / "train_features.csv").read_bytes()
    assert load(a).fingerprint == load(b).fingerprint != load(c).fingerprint


def test_small_sizes_and_explicit_test_rows(tmp_path: Path) -> None:
    ds = load(make_moa_like(tmp_path / "s", test_rows=17, **SMALL))
    assert ds.X.shape == (300, 4 + 30 + 8) and ds.n_labels == 20 and ds.Y_aux.shape == (300, 12)
    assert ds.X_test.shape == (17, 42) and ds.Y.sum(axis=0).min() >= 1


def test_tiny_sizes_without_auxiliary_targets(tmp_path: Path) -> None:
    out = make_moa_like(tmp_path / "t", rows=40, targets=1, n_genes=1, n_cells=1, n_nonscored=0)
    assert not (out / "train_targets_nonscored.csv").exists()
    ds = load(out)
    assert ds.Y_aux is None and ds.Y.sum() == 1 and ds.X.shape == (40, 6)


def test_make_moa_like_dataset(tmp_path: Path) -> None:
    ds = make_moa_like_dataset(seed=3, **SMALL)
    assert ds.name == "moa_like" and ds.source == "synthetic:moa_like"
    assert ds.fingerprint == load(make_moa_like(tmp_path / "x", seed=3, **SMALL)).fingerprint


@pytest.mark.parametrize(
    "kwargs",
    [{"rows": 10}, {"targets": 0}, {"targets": 500, "rows": 300}, {"test_rows": 0}],
    ids=["too-few-rows", "no-targets", "more-targets-than-rows", "no-test-rows"],
)
def test_impossible_sizes_are_refused(tmp_path: Path, kwargs: dict) -> None:
    with pytest.raises(ConfigError, match="make_moa_like"):
        make_moa_like(tmp_path / "bad", **kwargs)


@pytest.mark.slow
def test_full_scale_matches_moa(tmp_path: Path) -> None:
    # no timed assertion: on a shared machine it measures the neighbours, not the generator
    ds = load(make_moa_like(tmp_path / "full", rows=23_814))
    positives = ds.Y.sum(axis=0)
    assert 0.003 <= ds.Y.mean() <= 0.004
    assert 600 <= positives.max() <= 1100 and (positives == 1).sum() >= 1
    assert 30 <= (positives <= 20).sum() <= 80
    assert abs(int(ds.known_negative.sum()) - 1866) <= 5
    sizes = np.array(list(Counter(ds.groups.tolist()).values()))
    assert 2500 <= sizes.size <= 4000 and (sizes >= 150).sum() >= 5
    assert len({r.tobytes() for r in ds.Y}) < 600


def test_refuses_to_overwrite_existing_files(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "train_features.csv").write_text("user data\n")
    with pytest.raises(ConfigError, match=r"already holds train_features\.csv"):
        make_moa_like(out, **SMALL)
    assert (out / "train_features.csv").read_text() == "user data\n"
