"""Checks on input tables; each failure is one :class:`DataError` line.

Every message names the file, the column (when there is one), the offending value or count and
what was expected, because the CLI prints it as a single line and the user must be able to fix
the data from that line alone.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from automoa.exceptions import DataError, DataWarning

#: Column names recognised as the row id, in order of preference.
ID_COLUMNS = ("id", "sig_id")

_MAX_VALUE_CHARS = 40


def data_error(message: str) -> DataError:
    """A :class:`DataError` whose message is forced onto one line."""
    return DataError(re.sub(r"\s*[\r\n]+\s*", " ", message).strip())


def fmt_value(value: object) -> str:
    """Short, single-line representation of a cell value for a message."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)  # 2.0 reads better as 2 in "bad value 2"
    elif isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def count(n: int, noun: str) -> str:
    """``'1 row'``, ``'3 rows'``: a count with its noun in the right number."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def fmt_examples(values: Iterable[object], limit: int = 3) -> str:
    """The first ``limit`` values, comma separated, followed by '...' when there are more."""
    values = list(values)
    shown = ", ".join(fmt_value(v) for v in values[:limit])
    return shown + (", ..." if len(values) > limit else "")


def check_has_rows(df: pd.DataFrame, file: str) -> None:
    """Refuse a table with a header but no data row."""
    if len(df) == 0:
        raise data_error(f"{file}: no data rows (only a header); expected at least one row")


def check_unique_columns(columns: Sequence[str], file: str) -> None:
    """Refuse repeated column names (pandas would silently rename them)."""
    dups = [c for c, n in Counter(columns).items() if n > 1]
    if dups:
        raise data_error(
            f"{file}: duplicate column names {fmt_examples(dups)}; expected every column name once"
        )


def find_id_column(
    columns: Sequence[str], file: str, id_col: str | None = None, id_source: str = "--id-col"
) -> str:
    """Name of the id column: ``id_col`` if given, else the first column in :data:`ID_COLUMNS`.

    ``id_source`` says where ``id_col`` came from (the option, or a model's id column), so that
    the error names only what the user can change.

    Raises:
        DataError: if the requested or any recognised id column is absent.
    """
    if id_col is not None:
        if id_col not in columns:
            raise data_error(
                f"{file}: id column {id_col!r} ({id_source}) not found; "
                f"columns start with {fmt_examples(columns, 5)}"
            )
        return id_col
    for col in columns:
        if col in ID_COLUMNS:
            return col
    raise data_error(
        f"{file}: no id column; expected a column named 'id' or 'sig_id' (or pass --id-col), "
        f"columns start with {fmt_examples(columns, 5)}"
    )


def check_ids(values: pd.Series, file: str, col: str) -> np.ndarray:
    """Validate an id column and return it as a numpy str array.

    Raises:
        DataError: on missing/empty ids or duplicated ids.
    """
    missing = values.isna().to_numpy().copy()
    ids = values.astype(str).str.strip().to_numpy(dtype=str)
    missing |= ids == ""
    if missing.any():
        rows = np.flatnonzero(missing)
        raise data_error(
            f"{file}: column {col!r} has {count(rows.size, 'missing or empty id')} (first at data "
            f"row {fmt_examples((int(r) + 1 for r in rows), 3)}); expected an id on every row"
        )
    dup_mask = pd.Index(ids).duplicated(keep=False)
    if dup_mask.any():
        dup_ids = pd.unique(ids[dup_mask])
        raise data_error(
            f"{file}: column {col!r} has {count(dup_ids.size, 'duplicated id')} "
            f"({count(int(dup_mask.sum()), 'row')}), e.g. {fmt_examples(dup_ids)}; "
            "expected unique ids"
        )
    return ids


def group_values(series: pd.Series, file: str, col: str, ids: np.ndarray) -> np.ndarray:
    """A group label per row, as strings.

    Raises:
        DataError: on a missing group.
    """
    missing = series.isna().to_numpy()
    if missing.any():
        raise data_error(
            f"{file}: group column {col!r} has {count(int(missing.sum()), 'missing value')}, "
            f"e.g. row id {fmt_examples(ids[missing])}; expected a group on every row"
        )
    return series.astype(str).to_numpy(dtype=str)


def align_ids(
    ids: np.ndarray, other_ids: np.ndarray, file: str, other_file: str, col: str
) -> np.ndarray:
    """Positions of ``ids`` in ``other_ids``; both must hold exactly the same ids.

    Raises:
        DataError: if an id is in one file only (either direction).
    """
    indexer = pd.Index(other_ids).get_indexer(ids)
    absent = indexer < 0
    if absent.any():
        raise data_error(
            f"{other_file}: {count(int(absent.sum()), 'id')} of {file} missing from column "
            f"{col!r}, e.g. {fmt_examples(ids[absent])}; expected a row for every id of {file}"
        )
    if len(other_ids) != len(ids):
        extra = other_ids[~pd.Index(other_ids).isin(ids)]
        raise data_error(
            f"{other_file}: {count(extra.size, 'id')} in column {col!r} not in {file}, "
            f"e.g. {fmt_examples(extra)}; expected the same ids as {file}"
        )
    return indexer


def _non_numeric_example(series: pd.Series, ids: np.ndarray) -> str:
    """'row id X: value' for the first cell of ``series`` that is not a number."""
    coerced = pd.to_numeric(series, errors="coerce")
    bad = np.flatnonzero((coerced.isna() & series.notna()).to_numpy())
    pos = int(bad[0]) if bad.size else 0  # all cells parse: the column is numbers stored as text
    return f"row id {fmt_value(ids[pos])} has {fmt_value(series.iloc[pos])}"


def numeric_matrix(
    df: pd.DataFrame, file: str, ids: np.ndarray, what: str, *, allow_missing: bool = True
) -> np.ndarray:
    """The columns of ``df`` as a float32 matrix: finite numbers, NaN for missing values.

    Args:
        df: the feature columns only (no id).
        file: file name for messages.
        ids: row ids, for messages.
        what: 'feature' or similar, for messages.
        allow_missing: accept NaN (empty cells); infinity is refused either way.

    Raises:
        DataError: on zero columns, a non-numeric column, infinite values, or NaN when
            ``allow_missing`` is false.
    """
    if df.shape[1] == 0:
        raise data_error(f"{file}: no {what} columns besides the id; expected at least one")
    bad_cols = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c].dtype)]
    if bad_cols:
        col = bad_cols[0]
        raise data_error(
            f"{file}: {count(len(bad_cols), f'non-numeric {what} column')}, first {col!r} "
            f"({_non_numeric_example(df[col], ids)}); expected numbers (encode categoricals "
            "before loading)"
        )
    with np.errstate(over="ignore"):  # beyond float32 range becomes inf: refused below
        X = np.ascontiguousarray(df.to_numpy(dtype=np.float32))  # row-major: models slice rows
    finite = np.isfinite(X) | np.isnan(X) if allow_missing else np.isfinite(X)
    if not finite.all():
        nan_count = (np.isnan(X) & ~finite).sum(axis=0)
        bad_count = (~finite).sum(axis=0)
        cols = np.flatnonzero(bad_count)
        kinds = "NaN" if nan_count.sum() == bad_count.sum() else "NaN or infinite"
        if nan_count.sum() == 0:
            kinds = "infinite (or beyond float32 range)"
        detail = ", ".join(
            f"{df.columns[c]!r}: {count(int(bad_count[c]), 'row')}" for c in cols[:3]
        )
        more = ", ..." if cols.size > 3 else ""
        expected = (
            "expected finite numbers or empty cells for missing values"
            if allow_missing
            else "expected finite numbers (this model was trained without missing values)"
        )
        raise data_error(
            f"{file}: {kinds} values in {count(cols.size, f'{what} column')} ({detail}{more}); "
            f"{expected}"
        )
    return X


def binary_matrix(df: pd.DataFrame, file: str, ids: np.ndarray) -> np.ndarray:
    """The columns of ``df`` (targets, no id) as a uint8 0/1 matrix.

    Raises:
        DataError: on zero columns, a non-numeric column, missing values or values not 0/1.
    """
    if df.shape[1] == 0:
        raise data_error(f"{file}: no target columns besides the id; expected at least one")
    for col in df.columns:
        if not pd.api.types.is_numeric_dtype(df[col].dtype):
            example = _non_numeric_example(df[col], ids)
            raise data_error(
                f"{file}: target column {col!r} is not numeric ({example}); expected 0/1"
            )
    T = df.to_numpy(dtype=np.float64)
    nan = np.isnan(T)
    if nan.any():
        counts = nan.sum(axis=0)
        c = int(np.flatnonzero(counts)[0])
        raise data_error(
            f"{file}: target column {df.columns[c]!r} has {count(int(counts[c]), 'missing value')} "
            f"({count(int((counts > 0).sum()), 'column')} affected); expected 0/1 on every row"
        )
    bad = (T != 0) & (T != 1)
    if bad.any():
        r, c = (int(v[0]) for v in np.nonzero(bad))
        col = str(df.columns[c])
        value = T[r, c]
        kind = (
            "a continuous target is not a label"
            if value != np.round(value)
            else "Only binary classification is supported per label: encode a multiclass "
            "target as one 0/1 column per class"
        )
        raise data_error(
            f"{file}: target column {col!r} has value {fmt_value(value)} at row id "
            f"{fmt_value(ids[r])} ({count(int(bad[:, c].sum()), 'such row')}); expected 0 or 1 "
            f"({kind})"
        )
    return np.ascontiguousarray(T, dtype=np.uint8)


def warn_no_positive(Y: np.ndarray, names: Sequence[str], file: str) -> None:
    """Warn (:class:`DataWarning`) about targets with no positive row; they are kept."""
    empty = [names[j] for j in np.flatnonzero(Y.sum(axis=0) == 0)]
    if empty:
        warnings.warn(
            f"{file}: {count(len(empty), 'target')} with no positive row "
            f"({fmt_examples(empty, 10)}); they are kept and will be predicted near 0",
            DataWarning,
            stacklevel=4,
        )


def check_disjoint(features: Sequence[str], targets: Sequence[str], file: str, other: str) -> None:
    """Refuse a column that is both a feature and a target (it would leak the label)."""
    feature_set = set(features)
    both = [c for c in targets if c in feature_set]
    if both:
        raise data_error(
            f"{other}: {count(len(both), 'target column')} also in {file}, e.g. "
            f"{fmt_examples(both)}; expected targets to be separate from features"
        )


def check_test_columns(
    train_cols: Sequence[str], test_cols: Sequence[str], train_file: str, test_file: str
) -> None:
    """Test features must have the training feature columns (any order), no more, no fewer."""
    train_set, test_set = set(train_cols), set(test_cols)
    missing = [c for c in train_cols if c not in test_set]
    extra = [c for c in test_cols if c not in train_set]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing ({fmt_examples(missing, 5)})")
        if extra:
            parts.append(f"{len(extra)} extra ({fmt_examples(extra, 5)})")
        raise data_error(
            f"{test_file}: columns differ from {train_file}: {'; '.join(parts)}; "
            "expected the same feature columns"
        )


def check_allowed(series: pd.Series, file: str, col: str, allowed: Sequence[object]) -> None:
    """Every value of a categorical column must be one of ``allowed``."""
    bad = ~series.isin(allowed).to_numpy()
    if bad.any():
        values = series[bad]
        first = values.iloc[0]
        shown = "missing value" if pd.isna(first) else f"unknown value {fmt_value(first)}"
        raise data_error(
            f"{file}: column {col!r} has {shown} ({count(int(bad.sum()), 'row')}); "
            f"expected one of {', '.join(str(a) for a in allowed)}"
        )


def check_known_negative(
    Y: np.ndarray, known_negative: np.ndarray, ids: np.ndarray, file: str
) -> None:
    """Known-negative (control) rows must have no positive label."""
    bad = known_negative & (Y.sum(axis=1) > 0)
    if bad.any():
        raise data_error(
            f"{file}: {count(int(bad.sum()), 'ctl_vehicle (control) row')} with a positive "
            f"target, e.g. row id {fmt_examples(ids[bad])}; expected all targets 0 for controls"
        )


def check_trainable(known_negative: np.ndarray, file: str) -> None:
    """At least one row must be trainable (not a known-negative control)."""
    if known_negative.size and known_negative.all():
        raise data_error(
            f"{file}: every row is a ctl_vehicle (control) row, whose targets are 0 by "
            "construction; expected treated (trt_cp) rows to train on"
        )
