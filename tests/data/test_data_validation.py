"""Bad inputs: each one raises a one-line DataError naming the file, the column and the value.

Each case builds a broken data set under ``tmp_path`` from the tiny tables of conftest.py and
returns the arguments of ``load``.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from automoa.data import describe, load
from automoa.exceptions import DataError


class Env:
    """What a case needs: a scratch directory, fresh tiny tables and the writers."""

    def __init__(self, tmp: Path, moa: dict, generic: dict, write, write_one) -> None:
        self.tmp, self.moa, self.generic = tmp, moa, generic
        self.write, self.write_one = write, write_one

    def moa_dir(self, **load_kwargs: Any) -> dict[str, Any]:
        return {"path": self.write(self.tmp / "moa", self.moa), **load_kwargs}

    def generic_dir(self, **load_kwargs: Any) -> dict[str, Any]:
        return {"path": self.write(self.tmp / "gen", self.generic), **load_kwargs}


Case = Callable[[Env], dict[str, Any]]


def _set(df: pd.DataFrame, row: int, col: str, value: object) -> None:
    """Set one cell, turning the column to object first when the value's type differs."""
    if not isinstance(value, (int, float, np.number)):
        df[col] = df[col].astype(object)
    df.loc[row, col] = value


# ---- files and layouts -------------------------------------------------------------------


def missing_directory(env: Env) -> dict:
    return {"path": env.tmp / "nowhere"}


def no_known_layout(env: Env) -> dict:
    (env.tmp / "d").mkdir()
    (env.tmp / "d" / "data.txt").write_text("x")
    return {"path": env.tmp / "d"}


def empty_directory(env: Env) -> dict:
    (env.tmp / "empty").mkdir()
    return {"path": env.tmp / "empty"}


def path_is_a_file(env: Env) -> dict:
    return {"path": env.write(env.tmp / "g", env.generic) / "features.csv"}


def moa_targets_file_missing(env: Env) -> dict:
    kwargs = env.moa_dir()
    (kwargs["path"] / "train_targets_scored.csv").unlink()
    return kwargs


def generic_targets_file_missing(env: Env) -> dict:
    kwargs = env.generic_dir()
    (kwargs["path"] / "targets.csv").unlink()
    return kwargs


def explicit_file_missing(env: Env) -> dict:
    return {"features": env.tmp / "absent.csv", "targets": env.tmp / "y.csv"}


def targets_missing_for_features(env: Env) -> dict:
    return {"features": env.tmp / "x.csv"}


def ambiguous_two_formats(env: Env) -> dict:
    kwargs = env.generic_dir()
    env.write_one(env.generic["features"], kwargs["path"] / "features.csv.gz")
    return kwargs


def unknown_bundled(env: Env) -> dict:
    return {"path": "bundled:nope"}


# ---- unreadable and empty files ----------------------------------------------------------


def zero_byte_file(env: Env) -> dict:
    kwargs = env.moa_dir()
    (kwargs["path"] / "train_features.csv").write_bytes(b"")
    return kwargs


def header_only(env: Env) -> dict:
    env.moa["train_targets_scored"] = env.moa["train_targets_scored"].iloc[:0]
    return env.moa_dir()


def ragged_csv_row(env: Env) -> dict:
    kwargs = env.moa_dir()
    with (kwargs["path"] / "train_targets_scored.csv").open("a") as fh:
        fh.write("id_999,0,0,0,1,1\n")
    return kwargs


def corrupt_gzip(env: Env) -> dict:
    kwargs = env.generic_dir()
    (kwargs["path"] / "features.csv").unlink()
    (kwargs["path"] / "features.csv.gz").write_bytes(gzip.compress(b"id,f1\nx,1\n")[:15])
    return kwargs


def corrupt_parquet(env: Env) -> dict:
    kwargs = env.generic_dir()
    (kwargs["path"] / "targets.csv").unlink()
    (kwargs["path"] / "targets.parquet").write_bytes(b"PAR1 this is not parquet")
    return kwargs


def duplicate_column_names(env: Env) -> dict:
    kwargs = env.generic_dir()
    (kwargs["path"] / "features.csv").write_text("id,f1,f2,f1\na,1,2,3\nb,4,5,6\n")
    return kwargs


# ---- ids ---------------------------------------------------------------------------------


def no_id_column(env: Env) -> dict:
    env.moa["train_features"] = env.moa["train_features"].rename(columns={"sig_id": "key"})
    return env.moa_dir()


def id_col_not_present(env: Env) -> dict:
    return env.generic_dir(id_col="row_key")


def duplicate_ids(env: Env) -> dict:
    _set(env.moa["train_features"], 2, "sig_id", "id_001")
    return env.moa_dir()


def duplicate_target_ids(env: Env) -> dict:
    _set(env.generic["targets"], 5, "id", "ex_4")
    return env.generic_dir()


def empty_id(env: Env) -> dict:
    _set(env.generic["features"], 3, "id", "")
    return env.generic_dir()


def ids_missing_from_targets(env: Env) -> dict:
    env.moa["train_targets_scored"] = env.moa["train_targets_scored"].drop(index=3)
    return env.moa_dir()


def ids_only_in_targets(env: Env) -> dict:
    targets = env.moa["train_targets_scored"]
    extra = pd.DataFrame({"sig_id": ["id_999"], "tA": [0], "tB": [0], "tC": [0]})
    env.moa["train_targets_scored"] = pd.concat([targets, extra], ignore_index=True)
    return env.moa_dir()


def duplicate_test_ids(env: Env) -> dict:
    _set(env.moa["test_features"], 3, "sig_id", "te_0")
    return env.moa_dir()


# ---- feature values ----------------------------------------------------------------------


def non_numeric_feature(env: Env) -> dict:
    _set(env.moa["train_features"], 2, "g-1", "abc")
    return env.moa_dir()


def inf_in_features(env: Env) -> dict:
    env.generic["features"].loc[1, "f3"] = np.inf
    return env.generic_dir()


def zero_feature_columns(env: Env) -> dict:
    env.generic["features"] = env.generic["features"][["id"]]
    del env.generic["features_test"]
    return env.generic_dir()


def non_numeric_test_feature(env: Env) -> dict:
    _set(env.generic["features_test"], 1, "f2", "n/a?")
    return env.generic_dir()


def columns_of_test_file_differ(env: Env) -> dict:
    env.moa["test_features"] = env.moa["test_features"].drop(columns=["g-1"]).assign(bogus=1.0)
    return env.moa_dir()


# ---- target values -----------------------------------------------------------------------


def target_value_two(env: Env) -> dict:
    env.moa["train_targets_scored"].loc[4, "tB"] = 2
    return env.moa_dir()


def target_fraction(env: Env) -> dict:
    env.generic["targets"]["y2"] = env.generic["targets"]["y2"].astype(float)
    env.generic["targets"].loc[3, "y2"] = 0.5
    return env.generic_dir()


def nan_in_targets(env: Env) -> dict:
    env.moa["train_targets_scored"]["tA"] = env.moa["train_targets_scored"]["tA"].astype(float)
    env.moa["train_targets_scored"].loc[2, "tA"] = np.nan
    return env.moa_dir()


def non_numeric_target(env: Env) -> dict:
    _set(env.moa["train_targets_scored"], 1, "tA", "yes")
    return env.moa_dir()


def zero_target_columns(env: Env) -> dict:
    env.generic["targets"] = env.generic["targets"][["id"]]
    return env.generic_dir()


def target_is_also_feature(env: Env) -> dict:
    env.generic["targets"]["f1"] = 1
    return env.generic_dir()


def aux_target_not_binary(env: Env) -> dict:
    env.moa["train_targets_nonscored"].loc[0, "aux_y"] = 3
    return env.moa_dir()


def aux_ids_missing(env: Env) -> dict:
    env.moa["train_targets_nonscored"] = env.moa["train_targets_nonscored"].iloc[:-2]
    return env.moa_dir()


def control_with_positive_label(env: Env) -> dict:
    env.moa["train_targets_scored"].loc[0, "tC"] = 1
    return env.moa_dir()


# ---- MoA categoricals, drugs, groups, submission -----------------------------------------


def unknown_cp_type(env: Env) -> dict:
    _set(env.moa["train_features"], 5, "cp_type", "trt_xx")
    return env.moa_dir()


def unknown_cp_time(env: Env) -> dict:
    env.moa["train_features"].loc[[1, 2], "cp_time"] = 36
    return env.moa_dir()


def unknown_cp_dose_in_test(env: Env) -> dict:
    _set(env.moa["test_features"], 2, "cp_dose", "D3")
    return env.moa_dir()


def drug_file_missing_ids(env: Env) -> dict:
    env.moa["train_drug"] = env.moa["train_drug"].drop(index=[7, 8])
    return env.moa_dir()


def drug_file_without_drug_id(env: Env) -> dict:
    env.moa["train_drug"] = env.moa["train_drug"].rename(columns={"drug_id": "compound"})
    return env.moa_dir()


def group_col_not_found(env: Env) -> dict:
    return env.generic_dir(group_col="batch")


def group_col_with_missing(env: Env) -> dict:
    env.generic["features"]["batch"] = ["a", "a", None, "b", "b", "c"]
    return env.generic_dir(group_col="batch")


def submission_columns_differ(env: Env) -> dict:
    env.moa["sample_submission"] = env.moa["sample_submission"].drop(columns=["tC"]).assign(tZ=0.5)
    return env.moa_dir()


def submission_ids_differ(env: Env) -> dict:
    _set(env.moa["sample_submission"], 0, "sig_id", "te_9")
    return env.moa_dir()


CASES: list[tuple[Case, str]] = [
    (missing_directory, r"nowhere: data directory not found"),
    (no_known_layout, r"d: matches no known layout; expected train_features\.csv.*features_train"
     r".*\(generic\), found 'data\.txt'"),
    (empty_directory, r"empty: matches no known layout.*found an empty directory"),
    (path_is_a_file, r"features\.csv: is a file; expected a data directory"),
    (moa_targets_file_missing, r"moa: Kaggle MoA layout but no train_targets_scored\.csv"),
    (generic_targets_file_missing, r"gen: generic layout but no targets\.csv\[\.gz\]/\.parquet or "
     r"targets_train"),
    (explicit_file_missing, r"absent\.csv: file not found"),
    (targets_missing_for_features, r"no data given: expected .*targets=None"),
    (ambiguous_two_formats, r"gen: ambiguous, both features\.csv and features\.csv\.gz exist"),
    (unknown_bundled, r"bundled:nope: unknown bundled dataset; expected one of bundled:yeast"),
    (zero_byte_file, r"train_features\.csv: empty file \(no header, no rows\)"),
    (header_only, r"train_targets_scored\.csv: no data rows"),
    (ragged_csv_row, r"train_targets_scored\.csv: cannot be read \(.*Expected 4 fields"),
    (corrupt_gzip, r"features\.csv\.gz: cannot be read"),
    (corrupt_parquet, r"targets\.parquet: cannot be read"),
    (duplicate_column_names, r"features\.csv: duplicate column names 'f1'"),
    (no_id_column, r"train_features\.csv: no id column; expected a column named 'id' or 'sig_id'"),
    (id_col_not_present, r"features\.csv: id column 'row_key' \(--id-col\) not found"),
    (duplicate_ids, r"train_features\.csv: column 'sig_id' has 1 duplicated id \(2 rows\), "
     r"e\.g\. 'id_001'"),
    (duplicate_target_ids, r"targets\.csv: column 'id' has 1 duplicated id.*'ex_4'"),
    (empty_id, r"features\.csv: column 'id' has 1 missing or empty id \(first at data row 4\)"),
    (ids_missing_from_targets, r"train_targets_scored\.csv: 1 id of train_features\.csv "
     r"missing from column 'sig_id', e\.g\. 'id_003'"),
    (ids_only_in_targets, r"train_targets_scored\.csv: 1 id in column 'sig_id' not in "
     r"train_features\.csv, e\.g\. 'id_999'"),
    (duplicate_test_ids, r"test_features\.csv: column 'sig_id' has 1 duplicated id.*'te_0'"),
    (non_numeric_feature, r"train_features\.csv: 1 non-numeric feature column, first 'g-1' "
     r"\(row id 'id_002' has 'abc'\)"),
    (inf_in_features, r"features\.csv: infinite .*values in 1 feature column \('f3': 1 row\)"),
    (zero_feature_columns, r"features\.csv: no feature columns besides the id"),
    (non_numeric_test_feature, r"features_test\.csv: 1 non-numeric feature column, first 'f2' "
     r"\(row id 't_1' has 'n/a\?'\)"),
    (columns_of_test_file_differ, r"test_features\.csv: columns differ from train_features\.csv: "
     r"1 missing \('g-1'\); 1 extra \('bogus'\)"),
    (target_value_two, r"train_targets_scored\.csv: target column 'tB' has value 2 at row id "
     r"'id_004'.*expected 0 or 1"),
    (target_fraction, r"targets\.csv: target column 'y2' has value 0\.5 at row id 'ex_3'"),
    (nan_in_targets, r"train_targets_scored\.csv: target column 'tA' has 1 missing value "
     r"\(1 column affected\)"),
    (non_numeric_target, r"train_targets_scored\.csv: target column 'tA' is not numeric "
     r"\(row id 'id_001' has 'yes'\)"),
    (zero_target_columns, r"targets\.csv: no target columns besides the id"),
    (target_is_also_feature, r"targets\.csv: 1 target column also in features\.csv, "
     r"e\.g\. 'f1'"),
    (aux_target_not_binary, r"train_targets_nonscored\.csv: target column 'aux_y' has value 3"),
    (aux_ids_missing, r"train_targets_nonscored\.csv: 2 ids of train_features\.csv missing from "
     r"column 'sig_id'"),
    (control_with_positive_label, r"train_targets_scored\.csv: 1 ctl_vehicle \(control\) row "
     r"with a positive target, e\.g\. row id 'id_000'"),
    (unknown_cp_type, r"train_features\.csv: column 'cp_type' has unknown value 'trt_xx' "
     r"\(1 row\); expected one of trt_cp, ctl_vehicle"),
    (unknown_cp_time, r"train_features\.csv: column 'cp_time' has unknown value 36 \(2 rows\); "
     r"expected one of 24, 48, 72"),
    (unknown_cp_dose_in_test, r"test_features\.csv: column 'cp_dose' has unknown value 'D3'"),
    (drug_file_missing_ids, r"train_drug\.csv: 2 ids of train_features\.csv without 'drug_id', "
     r"e\.g\. 'id_007', 'id_008'"),
    (drug_file_without_drug_id, r"train_drug\.csv: no 'drug_id' column"),
    (group_col_not_found, r"features\.csv: group column 'batch' \(--group-col\) not found"),
    (group_col_with_missing, r"features\.csv: group column 'batch' has 1 missing value, "
     r"e\.g\. row id 'ex_2'"),
    (submission_columns_differ, r"sample_submission\.csv: target columns differ from "
     r"train_targets_scored\.csv: 1 scored target missing \('tC'\); 1 unknown column \('tZ'\)"),
    (submission_ids_differ, r"sample_submission\.csv: column 'sig_id' differs from the test "
     r"feature ids \(1 id \(e\.g\. 'te_9'\) not in the test features, 1 id \(e\.g\. 'te_0'\) "
     r"missing\)"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "message"), [pytest.param(c, m, id=c.__name__) for c, m in CASES])
def test_bad_input_raises_one_line_data_error(
    case: Case, message: str, tmp_path: Path, moa_tables, generic_tables, write, write_one
) -> None:
    kwargs = case(Env(tmp_path, moa_tables, generic_tables, write, write_one))
    with pytest.raises(DataError, match=message) as info:
        load(**kwargs)
    text = str(info.value)
    assert "\n" not in text and "\r" not in text
    assert "expected" in text or "not found" in text  # says what was wanted


def test_case_names_are_unique() -> None:
    names = [c.__name__ for c, _ in CASES]
    assert len(names) == len(set(names)) and len(names) >= 22


# What the command line adds to load(): exit code 2, one "error:" line, no traceback.
_CLI_OPTIONS = {
    "features": "--features",
    "targets": "--targets",
    "test_features": "--test-features",
    "id_col": "--id-col",
    "group_col": "--group-col",
}


@pytest.mark.parametrize(("case", "message"), [pytest.param(c, m, id=c.__name__) for c, m in CASES])
def test_bad_input_through_cli_exits_2_with_one_error_line(
    case: Case, message: str, tmp_path: Path, moa_tables, generic_tables, write, write_one
) -> None:
    from typer.testing import CliRunner

    from automoa.cli import app

    kwargs = case(Env(tmp_path, moa_tables, generic_tables, write, write_one))
    args = ["data", "check"]
    if kwargs.get("path") is not None:
        args.append(str(kwargs.pop("path")))
    for key, value in kwargs.items():
        args += [_CLI_OPTIONS[key], str(value)]
    result = CliRunner().invoke(app, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    if case is not targets_missing_for_features:  # the CLI asks for --targets before load()
        assert re.search(message, lines[0]), lines[0]


def test_missing_feature_values_are_accepted_and_counted(tmp_path, moa_tables, write):
    moa_tables["train_features"].loc[[4, 5], "c-0"] = np.nan
    dataset = load(write(tmp_path / "moa", moa_tables))
    assert dataset.has_missing and int(np.isnan(dataset.X).sum()) == 2
    lines = describe(dataset).to_lines()
    assert "missing values: 2 in 1 feature columns" in lines[-1]
