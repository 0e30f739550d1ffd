"""Loading every supported layout into a Dataset."""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from automoa.data import Dataset, load, load_yeast, load_yeast_test_targets
from automoa.exceptions import DataWarning

BUNDLED_YEAST = Path(__file__).parents[2] / "automoa" / "data" / "bundled" / "yeast"


def test_moa_layout_full(moa_dir: Path, moa_tables) -> None:
    ds = load(moa_dir)
    assert isinstance(ds, Dataset)
    assert ds.name == "moa"
    assert ds.source == str(moa_dir.absolute())
    assert ds.X.dtype == np.float32 and ds.X.flags.c_contiguous
    assert ds.Y.dtype == np.uint8
    assert ds.feature_names == (
        "cp_time_24", "cp_time_48", "cp_time_72", "cp_dose_D2",
        "g-0", "g-1", "g-2", "c-0", "c-1",
    )  # fmt: skip
    assert ds.target_names == ("tA", "tB", "tC")
    assert ds.ids.dtype.kind == "U" and ds.ids[0] == "id_000"
    assert ds.X.shape == (12, 9) and ds.Y.shape == (12, 3)
    # cp_time 24/48/72 cycles, cp_dose D1/D2 alternates
    np.testing.assert_array_equal(ds.X[:3, :4], [[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 1, 0]])
    np.testing.assert_allclose(ds.X[:, 4], moa_tables["train_features"]["g-0"], rtol=1e-6)
    assert ds.Y[:, 0].tolist() == [0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert np.flatnonzero(ds.known_negative).tolist() == [0, 6]
    assert ds.trainable_mask.sum() == 10
    assert ds.groups.tolist()[:4] == ["ctl", "d1", "d1", "d1"]
    assert ds.aux_names == ("aux_x", "aux_y")
    assert ds.Y_aux.dtype == np.uint8 and ds.Y_aux[:, 0].sum() == 2 and ds.Y_aux[:, 1].sum() == 0
    assert ds.X_test.shape == (4, 9) and ds.X_test.dtype == np.float32
    assert ds.test_ids.tolist() == ["te_0", "te_1", "te_2", "te_3"]
    assert ds.test_known_negative.tolist() == [False, True, False, False]
    np.testing.assert_array_equal(ds.X_test[0, :4], [1, 0, 0, 1])
    assert len(ds.fingerprint) == 64


def test_moa_rows_aligned_by_id_not_order(tmp_path: Path, moa_tables, write) -> None:
    reference = load(write(tmp_path / "a", moa_tables))
    for key in ("train_targets_scored", "train_targets_nonscored", "train_drug"):
        moa_tables[key] = moa_tables[key].sample(frac=1.0, random_state=3)
    assert moa_tables["train_targets_scored"]["sig_id"].iloc[0] != "id_000"
    shuffled = load(write(tmp_path / "b", moa_tables))
    np.testing.assert_array_equal(shuffled.Y, reference.Y)
    np.testing.assert_array_equal(shuffled.Y_aux, reference.Y_aux)
    np.testing.assert_array_equal(shuffled.groups, reference.groups)
    assert shuffled.fingerprint == reference.fingerprint


@pytest.mark.parametrize("ext", [".csv.gz", ".parquet"], ids=["csv-gz", "parquet"])
def test_moa_layout_other_formats(tmp_path: Path, moa_tables, write, ext: str) -> None:
    reference = load(write(tmp_path / "csv", moa_tables))
    ds = load(write(tmp_path / "other", moa_tables, ext))
    assert ds.fingerprint == reference.fingerprint
    np.testing.assert_array_equal(ds.X_test, reference.X_test)


def test_moa_optional_files_absent(tmp_path: Path, moa_tables, write) -> None:
    keep = ("train_features", "train_targets_scored")
    ds = load(write(tmp_path / "m", {k: moa_tables[k] for k in keep}))
    assert ds.groups is None and ds.Y_aux is None and ds.aux_names == ()
    assert ds.X_test is None and ds.test_ids is None and ds.test_known_negative is None
    assert ds.known_negative.sum() == 2


def test_moa_group_col_replaces_train_drug(tmp_path: Path, moa_tables, write) -> None:
    moa_tables["train_features"]["plate"] = ["p1", "p2"] * 6
    moa_tables["test_features"]["plate"] = "p3"
    ds = load(write(tmp_path / "m", moa_tables), group_col="plate")
    assert ds.groups.tolist()[:3] == ["p1", "p2", "p1"]
    assert "plate" not in ds.feature_names and ds.X_test.shape == (4, 9)


def test_generic_layout(generic_dir: Path) -> None:
    ds = load(generic_dir)
    assert ds.name == "generic"
    assert ds.feature_names == ("f1", "f2", "f3") and ds.target_names == ("y1", "y2")
    assert ds.X.shape == (6, 3) and ds.Y.tolist()[2] == [1, 1]
    assert ds.known_negative is None and ds.groups is None
    assert ds.X_test.shape == (2, 3) and ds.test_ids.tolist() == ["t_0", "t_1"]


def test_generic_train_names_mixed_formats(tmp_path: Path, generic_tables, write_one) -> None:
    d = tmp_path / "mixed"
    d.mkdir()
    write_one(generic_tables["features"], d / "features_train.csv.gz")
    write_one(generic_tables["targets"].iloc[::-1], d / "targets_train.csv")
    write_one(
        generic_tables["features_test"][["id", "f3", "f1", "f2"]], d / "features_test.parquet"
    )
    ds = load(d)
    assert ds.Y.tolist()[0] == [1, 0]  # aligned by id although target rows are reversed
    np.testing.assert_allclose(ds.X_test[0], [1.0, 7.0, 0.7], rtol=1e-6)  # test columns reordered


def test_explicit_files(tmp_path: Path, generic_dir: Path) -> None:
    ds = load(
        features=generic_dir / "features.csv",
        targets=generic_dir / "targets.csv",
        test_features=generic_dir / "features_test.csv",
    )
    assert ds.name == "features" and ds.X_test.shape == (2, 3)
    same = load(str(generic_dir / "features.csv"), targets=str(generic_dir / "targets.csv"))
    assert same.fingerprint == ds.fingerprint and same.X_test is None


def test_explicit_moa_files_are_encoded(moa_dir: Path) -> None:
    ds = load(
        features=moa_dir / "train_features.csv",
        targets=moa_dir / "train_targets_scored.csv",
        test_features=moa_dir / "test_features.csv",
    )
    assert ds.name == "train_features" and ds.feature_names[:4] == (
        "cp_time_24", "cp_time_48", "cp_time_72", "cp_dose_D2",
    )  # fmt: skip
    assert ds.known_negative.sum() == 2 and ds.test_known_negative.sum() == 1
    assert ds.groups is None and ds.Y_aux is None  # only the MoA layout reads the other files


def test_id_col_and_group_col(tmp_path: Path, generic_tables, write) -> None:
    for key in ("features", "targets", "features_test"):
        generic_tables[key] = generic_tables[key].rename(columns={"id": "key"})
    generic_tables["features"]["batch"] = ["b1", "b1", "b2", "b2", "b3", "b3"]
    ds = load(write(tmp_path / "g", generic_tables), id_col="key", group_col="batch")
    assert ds.ids.tolist()[0] == "ex_0"
    assert ds.groups.tolist() == ["b1", "b1", "b2", "b2", "b3", "b3"]
    assert ds.feature_names == ("f1", "f2", "f3")


def test_ids_stay_text(tmp_path: Path, generic_tables, write) -> None:
    for key in ("features", "targets"):
        generic_tables[key]["id"] = ["001", "002", "003", "010", "011", "012"]
    ds = load(write(tmp_path / "g", {k: generic_tables[k] for k in ("features", "targets")}))
    assert ds.ids.tolist()[:2] == ["001", "002"]


def test_target_without_positive_warns_and_is_kept(tmp_path: Path, generic_tables, write) -> None:
    generic_tables["targets"]["y_empty"] = 0
    with pytest.warns(
        DataWarning, match=r"targets\.csv: 1 target with no positive row \('y_empty'"
    ):
        ds = load(write(tmp_path / "g", generic_tables))
    assert ds.target_names == ("y1", "y2", "y_empty")


def test_clean_data_gives_no_warning(moa_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(moa_dir)


def test_bundled_yeast() -> None:
    ds = load("bundled:yeast")
    assert (ds.name, ds.source) == ("yeast", "bundled:yeast")
    assert ds.X.shape == (1500, 103) and ds.Y.shape == (1500, 14) and ds.X_test.shape == (917, 103)
    assert ds.feature_names[0] == "Att1" and ds.target_names[-1] == "Class14"
    same = load_yeast()
    assert same.fingerprint == ds.fingerprint and same.X_test is not None
    no_test = load_yeast(include_test=False)
    assert no_test.X_test is None and no_test.test_ids is None
    Y_test = load_yeast_test_targets(ds.test_ids[::-1])
    assert Y_test.shape == (917, 14) and Y_test.dtype == np.uint8
    np.testing.assert_array_equal(Y_test[::-1], load_yeast_test_targets())


def test_bundled_yeast_is_an_exact_copy(shared_datasets: Path) -> None:
    shared = sorted(p.name for p in (shared_datasets / "yeast").iterdir())
    assert shared == sorted(p.name for p in BUNDLED_YEAST.iterdir() if p.name != "SOURCE.md")
    for name in shared:
        digest = hashlib.sha256((BUNDLED_YEAST / name).read_bytes()).hexdigest()
        assert digest == hashlib.sha256((shared_datasets / "yeast" / name).read_bytes()).hexdigest()
    source = (BUNDLED_YEAST / "SOURCE.md").read_text()
    assert "43f6389095ad71984264db4387a8074b22bc7d4a" in source and "Elisseeff" in source


@pytest.mark.parametrize(
    ("name", "rows", "test_rows", "features", "labels"),
    [("scene", 1211, 1196, 294, 6), ("emotions", 391, 202, 72, 6), ("yeast", 1500, 917, 103, 14)],
)
def test_shared_datasets(
    shared_datasets: Path, name: str, rows: int, test_rows: int, features: int, labels: int
) -> None:
    ds = load(shared_datasets / name)
    assert ds.name == name
    assert (ds.n_rows, ds.X_test.shape[0], ds.n_features, ds.n_labels) == (
        rows, test_rows, features, labels,
    )  # fmt: skip
    assert ds.Y.sum(axis=0).min() > 0 and np.isfinite(ds.X).all()


def test_public_api() -> None:
    import automoa.data as data

    assert set(data.__all__) >= {
        "Dataset", "load", "describe", "DataSummary", "load_yeast", "make_moa_like", "fingerprint",
    }  # fmt: skip
    assert all(hasattr(data, name) for name in data.__all__)


def test_a_fifo_given_as_features_is_refused_without_being_opened(
    tmp_path: Path, generic_dir: Path
) -> None:
    from automoa.exceptions import DataError

    fifo = tmp_path / "features.csv"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    with pytest.raises(DataError, match=r"features\.csv: is not a regular file"):
        load(features=fifo, targets=generic_dir / "targets.csv")
