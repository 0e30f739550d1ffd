"""A :class:`Dataset` from arrays or DataFrames in memory (the Python API's ``(X, Y)`` form).

Rows are matched by position, as scikit-learn does. Where ``X`` and ``Y`` are both DataFrames
with different indexes, that is refused rather than silently misaligning labels.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from automoa.data import validation as v
from automoa.data.dataset import Dataset
from automoa.data.fingerprint import fingerprint
from automoa.data.moa import MOA_COLUMNS, encode_moa_columns

FEATURE_PREFIX = "x"
TARGET_PREFIX = "target_"
AUX_PREFIX = "aux_"


def _is_sparse(values: Any) -> bool:
    return hasattr(values, "tocsr") or isinstance(getattr(values, "dtype", None), pd.SparseDtype)


def _only_numbers(column: pd.Series) -> bool:
    """Whether an object column holds only real numbers (not text, which stays an error)."""
    values = column.dropna()
    return len(values) > 0 and all(
        isinstance(x, numbers.Real) and not isinstance(x, bool | str) for x in values
    )


def _numeric_objects(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """Object columns holding numbers become float; complex values are refused."""
    for column in frame.columns:
        dtype = frame[column].dtype
        if dtype.kind == "c":
            raise v.data_error(
                f"{what}: column {column!r}: Complex data not supported; expected real numbers"
            )
        if dtype.kind == "O" and _only_numbers(frame[column]):
            frame[column] = frame[column].astype(np.float64)
    return frame


def as_frame(values: Any, what: str, prefix: str, *, one_column_ok: bool) -> pd.DataFrame:
    """``values`` as a DataFrame with string column names (``prefix`` + position for arrays).

    Args:
        values: a DataFrame, Series, numpy array or nested sequence.
        what: its name in messages (``X``, ``Y``, ...).
        prefix: column-name prefix for arrays.
        one_column_ok: whether a 1-D input is read as one column (targets) or refused (features).

    Raises:
        DataError: sparse input, or not 1-D/2-D.
    """
    if _is_sparse(values):
        raise v.data_error(f"{what}: sparse input is not supported; expected a dense array")
    if isinstance(values, pd.DataFrame):
        frame = values.copy(deep=False)
        frame.columns = [str(c) for c in frame.columns]
    elif isinstance(values, pd.Series):
        if not one_column_ok:
            raise v.data_error(f"{what}: expected a 2-D array (rows x columns), got a Series")
        frame = values.to_frame(name=f"{prefix}0" if values.name is None else str(values.name))
    else:
        frame = _array_frame(values, what, prefix, one_column_ok)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        n_rows, n_columns = frame.shape
        noun = "feature(s)" if prefix == FEATURE_PREFIX else "column(s)"
        empty = f"0 sample(s) (shape={frame.shape})" if n_rows == 0 else ""
        empty = empty or f"0 {noun} (shape=({n_rows}, {n_columns}))"
        raise v.data_error(f"{what}: {empty} while a minimum of 1 is required.")
    v.check_unique_columns(list(frame.columns), what)
    return _numeric_objects(frame, what)


def _array_frame(values: Any, what: str, prefix: str, one_column_ok: bool) -> pd.DataFrame:
    try:
        array = np.asarray(values)
    except ValueError as exc:  # ragged nested sequences
        raise v.data_error(f"{what}: not a rectangular array ({exc})") from None
    if array.ndim == 1 and one_column_ok:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise v.data_error(
            f"{what}: expected a 2-D array (rows x columns), got {array.ndim}-D with shape "
            f"{array.shape}; Reshape your data (X.reshape(-1, 1) for one feature)"
        )
    return pd.DataFrame(array, columns=[f"{prefix}{j}" for j in range(array.shape[1])])


def _row_ids(frame: pd.DataFrame, original: Any) -> np.ndarray:
    """A DataFrame's unique index as ids (what messages and predictions show), else positions."""
    named = isinstance(original, pd.DataFrame | pd.Series)
    if named and original.index.is_unique and not isinstance(original.index, pd.RangeIndex):
        return original.index.astype(str).to_numpy(dtype=str)
    return np.arange(len(frame)).astype(str)


def _check_rows(frame: pd.DataFrame, what: str, n_rows: int) -> None:
    if len(frame) != n_rows:
        raise v.data_error(f"{what}: {len(frame)} rows but X has {n_rows}; expected one per row")


def _check_same_index(X: Any, other: Any, what: str) -> None:
    """Refuse two DataFrames whose rows are not in the same order (a silent misalignment)."""
    if not isinstance(X, pd.DataFrame) or not isinstance(other, pd.DataFrame | pd.Series):
        return
    if len(X) == len(other) and not X.index.equals(other.index):
        row = int(np.flatnonzero(X.index.to_numpy() != other.index.to_numpy())[0])
        raise v.data_error(
            f"{what}: its index differs from X's (row {row}: {v.fmt_value(other.index[row])} "
            f"vs {v.fmt_value(X.index[row])}); expected the same rows in the same order "
            f"(e.g. {what}.loc[X.index])"
        )


def _binary(values: Any, what: str, prefix: str, X: Any, ids: np.ndarray) -> pd.DataFrame:
    frame = as_frame(values, what, prefix, one_column_ok=True)
    _check_rows(frame, what, len(ids))
    _check_same_index(X, values, what)
    return frame.reset_index(drop=True)


def _mask(values: Any, what: str, n_rows: int) -> np.ndarray:
    array = np.asarray(values).reshape(-1)
    if array.size != n_rows:
        raise v.data_error(
            f"{what}: {array.size} values but X has {n_rows} rows; expected one per row"
        )
    if array.dtype != bool and not np.isin(array, (0, 1)).all():
        raise v.data_error(f"{what}: expected booleans (or 0/1), got values like {array[:3]!r}")
    return array.astype(bool)


def _features(
    frame: pd.DataFrame, what: str, ids: np.ndarray, encode_moa: bool
) -> tuple[np.ndarray, tuple[str, ...], np.ndarray | None]:
    """Encoded float32 features, their names, and the known-negative mask of MoA controls."""
    known_negative = None
    if encode_moa:
        frame, known_negative = encode_moa_columns(frame, what)
    return v.numeric_matrix(frame, what, ids, "feature"), tuple(frame.columns), known_negative


def from_arrays(
    X: Any,
    Y: Any,
    *,
    groups: Sequence[object] | np.ndarray | pd.Series | None = None,
    aux_targets: Any = None,
    known_negative: Sequence[bool] | np.ndarray | None = None,
    X_test: Any = None,
    name: str = "data",
) -> Dataset:
    """Build a validated :class:`Dataset` from features and 0/1 targets in memory.

    Args:
        X: (n, d) features: a DataFrame (its column names are kept; MoA's ``cp_type``,
            ``cp_time``, ``cp_dose`` are encoded as the file loader does) or a numeric array
            (columns named ``x0``, ``x1``, ...).
        Y: (n, L) 0/1 targets (DataFrame, array, or one column as a 1-D array or Series);
            array columns are named ``target_0``, ``target_1``, ...
        groups: optional n group labels (e.g. MoA drug ids) for group-aware folds.
        aux_targets: optional (n, A) 0/1 auxiliary targets, trained on but not scored.
        known_negative: optional n booleans: rows whose labels are all 0 by construction
            (never trained on, predicted 0). MoA controls are found from ``cp_type`` already.
        X_test: optional test features with X's columns; the search predicts them.
        name: the data's name (the default study name).

    Returns:
        The dataset, with its fingerprint (rows in the given order).

    Raises:
        DataError: wrong shapes, non-numeric or non-finite features, targets not 0/1,
            misaligned DataFrame indexes, a column both a feature and a target.
    """
    x_frame = as_frame(X, "X", FEATURE_PREFIX, one_column_ok=False)
    ids = _row_ids(x_frame, X)
    raw_columns = tuple(x_frame.columns)
    encode_moa = isinstance(X, pd.DataFrame) and MOA_COLUMNS[0] in raw_columns
    features, feature_names, moa_negative = _features(x_frame, "X", ids, encode_moa)

    y_frame = _binary(Y, "Y", TARGET_PREFIX, X, ids)
    v.check_disjoint(raw_columns, list(y_frame.columns), "X", "Y")
    targets = v.binary_matrix(y_frame, "Y", ids)
    target_names = tuple(y_frame.columns)
    v.warn_no_positive(targets, target_names, "Y")

    if known_negative is not None:
        moa_negative = _mask(known_negative, "known_negative", len(ids))
    if moa_negative is not None:
        v.check_trainable(moa_negative, "X")
        v.check_known_negative(targets, moa_negative, ids, "Y")

    group_labels = None
    if groups is not None:
        series = pd.Series(np.asarray(groups, dtype=object).reshape(-1))
        _check_rows(series.to_frame(), "groups", len(ids))
        group_labels = v.group_values(series, "groups", "groups", ids)

    aux, aux_names = None, ()
    if aux_targets is not None:
        aux_frame = _binary(aux_targets, "aux_targets", AUX_PREFIX, X, ids)
        v.check_disjoint(raw_columns, list(aux_frame.columns), "X", "aux_targets")
        aux, aux_names = v.binary_matrix(aux_frame, "aux_targets", ids), tuple(aux_frame.columns)

    test_features = test_ids = test_negative = None
    if X_test is not None:
        test_frame = as_frame(X_test, "X_test", FEATURE_PREFIX, one_column_ok=False)
        if not isinstance(X_test, pd.DataFrame) and test_frame.shape[1] == len(raw_columns):
            test_frame.columns = list(raw_columns)  # an array's columns are X's, by position
        v.check_test_columns(raw_columns, list(test_frame.columns), "X", "X_test")
        test_ids = _row_ids(test_frame, X_test)
        test_features, _, test_negative = _features(
            test_frame[list(raw_columns)], "X_test", test_ids, encode_moa
        )

    return Dataset(
        X=features,
        Y=targets,
        feature_names=feature_names,
        target_names=target_names,
        ids=ids,
        groups=group_labels,
        Y_aux=aux,
        aux_names=aux_names,
        known_negative=moa_negative,
        X_test=test_features,
        test_ids=test_ids,
        test_known_negative=test_negative,
        name=name,
        source="arrays in memory",
        input_columns=raw_columns,
        moa_encoded=encode_moa,
        positional_columns=not isinstance(X, pd.DataFrame),
        fingerprint=fingerprint(
            features,
            targets,
            ids,
            feature_names,
            target_names,
            groups=group_labels,
            known_negative=moa_negative,
        ),
    )
