"""Reading data into a :class:`Dataset`: Kaggle MoA layout, generic layout, explicit files.

Layouts of a directory:

- **Kaggle MoA**: ``train_features``, ``train_targets_scored`` and optionally
  ``train_targets_nonscored``, ``train_drug``, ``test_features``, ``sample_submission``.
- **generic**: ``features`` or ``features_train``, ``targets`` or ``targets_train`` and optionally
  ``features_test`` (the layout of the shared MULAN conversions).

Every file may be ``.csv``, ``.csv.gz`` or ``.parquet``. Rows keep the order of the features
file; target rows are matched to them by id. The MoA columns ``cp_type``/``cp_time``/``cp_dose``
are encoded in the MoA layout and in any features file that has a ``cp_type`` column.

Predictions are written back in the same shape: an id column, then one column per target.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from importlib.resources import files
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from automoa.atomic import atomic_write
from automoa.data import validation as v
from automoa.data.dataset import Dataset
from automoa.data.fingerprint import fingerprint
from automoa.data.moa import MOA_COLUMNS, encode_moa_columns

EXTENSIONS = (".csv", ".csv.gz", ".parquet")
MOA_STEMS = {
    "features": "train_features",
    "targets": "train_targets_scored",
    "aux": "train_targets_nonscored",
    "drug": "train_drug",
    "test": "test_features",
    "submission": "sample_submission",
}
GENERIC_FEATURES = ("features", "features_train")
GENERIC_TARGETS = ("targets", "targets_train")
GENERIC_TEST = ("features_test",)
BUNDLED_PREFIX = "bundled:"
DRUG_COLUMN = "drug_id"


@dataclass(frozen=True)
class _Sources:
    """The files one dataset is read from."""

    features: Path
    targets: Path
    test: Path | None = None
    aux: Path | None = None
    drug: Path | None = None
    submission: Path | None = None
    moa: bool = False


def _names(stems: tuple[str, ...]) -> str:
    return " or ".join(f"{s}.csv[.gz]/.parquet" for s in stems)


def _find(directory: Path, stems: tuple[str, ...]) -> Path | None:
    """The one file in ``directory`` named ``<stem><ext>``, or None; two candidates is an error."""
    found = [
        directory / (s + e) for s in stems for e in EXTENSIONS if (directory / (s + e)).is_file()
    ]
    if len(found) > 1:
        raise v.data_error(
            f"{directory}: ambiguous, both {found[0].name} and {found[1].name} exist; "
            "expected only one of them"
        )
    return found[0] if found else None


def _require(directory: Path, stems: tuple[str, ...], layout: str) -> Path:
    found = _find(directory, stems)
    if found is None:
        raise v.data_error(
            f"{directory}: {layout} layout but no {_names(stems)} file; expected it beside the "
            "features file"
        )
    return found


def _sources_from_directory(directory: Path) -> _Sources:
    """Detect the layout of ``directory`` and name its files."""
    moa_features = _find(directory, (MOA_STEMS["features"],))
    if moa_features is not None:
        return _Sources(
            features=moa_features,
            targets=_require(directory, (MOA_STEMS["targets"],), "Kaggle MoA"),
            test=_find(directory, (MOA_STEMS["test"],)),
            aux=_find(directory, (MOA_STEMS["aux"],)),
            drug=_find(directory, (MOA_STEMS["drug"],)),
            submission=_find(directory, (MOA_STEMS["submission"],)),
            moa=True,
        )
    features = _find(directory, GENERIC_FEATURES)
    if features is not None:
        return _Sources(
            features=features,
            targets=_require(directory, GENERIC_TARGETS, "generic"),
            test=_find(directory, GENERIC_TEST),
        )
    present = sorted(p.name for p in directory.iterdir())
    raise v.data_error(
        f"{directory}: matches no known layout; expected {_names((MOA_STEMS['features'],))} "
        f"(Kaggle MoA) or {_names(GENERIC_FEATURES)} (generic), found "
        f"{v.fmt_examples(present, 5) if present else 'an empty directory'}"
    )


def _check_file(path: Path) -> None:
    if not path.exists():
        raise v.data_error(f"{path}: file not found")
    if path.is_dir():
        raise v.data_error(f"{path}: is a directory, expected a data file")
    if not path.is_file():  # a FIFO, a device (/dev/zero), a socket: reading could block forever
        raise v.data_error(f"{path}: is not a regular file, expected a data file")


def _read_columns(path: Path) -> list[str]:
    """The header of a table, with duplicates kept (pandas would rename them)."""
    try:
        if path.name.endswith(".parquet"):
            return [str(c) for c in pq.read_schema(path).names]
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise v.data_error(
            f"{path.name}: empty file (no header, no rows); expected a header line and rows"
        ) from None
    except (ValueError, OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None
    return [str(c) for c in header.iloc[0].tolist()]


def _unreadable(path: Path, exc: BaseException) -> Exception:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return v.data_error(
        f"{path.name}: cannot be read ({reason}); expected a CSV (optionally gzipped) "
        "or parquet table"
    )


def read_table(
    path: Path, id_col: str | None = None, id_source: str = "--id-col"
) -> tuple[pd.DataFrame, str, np.ndarray]:
    """Read one table and validate its header, rows and id column.

    Args:
        path: a ``.csv``, ``.csv.gz`` or ``.parquet`` file.
        id_col: id column name; default the first column named ``id`` or ``sig_id``.
        id_source: where ``id_col`` came from, for error messages (an option, or e.g. "the
            model's id column" when a bundle names it).

    Returns:
        (the table without its id column, the id column name, the ids as a str array).

    Raises:
        DataError: if the file is missing, unreadable, empty, or its ids are invalid.
    """
    _check_file(path)
    columns = _read_columns(path)
    v.check_unique_columns(columns, path.name)
    id_name = v.find_id_column(columns, path.name, id_col, id_source)
    try:
        if path.name.endswith(".parquet"):
            df = pd.read_parquet(path)
        else:
            # ids stay text: "001" must not become 1
            df = pd.read_csv(path, dtype={id_name: str}, low_memory=False)
    except (ValueError, OSError, EOFError, zlib.error, pa.ArrowException) as exc:
        raise _unreadable(path, exc) from None
    df.columns = [str(c) for c in df.columns]
    v.check_has_rows(df, path.name)
    ids = v.check_ids(df[id_name], path.name, id_name)
    return df.drop(columns=[id_name]), id_name, ids


def _read_groups_file(
    path: Path, ids: np.ndarray, features_name: str, id_col: str | None
) -> np.ndarray:
    """Groups of the rows ``ids`` from a ``train_drug`` file (extra ids there are ignored)."""
    df, id_name, drug_ids = read_table(path, id_col)
    if DRUG_COLUMN not in df.columns:
        raise v.data_error(
            f"{path.name}: no {DRUG_COLUMN!r} column; expected columns {id_name!r} and "
            f"{DRUG_COLUMN!r}"
        )
    indexer = pd.Index(drug_ids).get_indexer(ids)
    if (indexer < 0).any():
        missing = ids[indexer < 0]
        raise v.data_error(
            f"{path.name}: {v.count(missing.size, 'id')} of {features_name} without "
            f"{DRUG_COLUMN!r}, e.g. {v.fmt_examples(missing)}; expected a {id_name!r} row for "
            "every training id"
        )
    return v.group_values(df[DRUG_COLUMN].iloc[indexer], path.name, DRUG_COLUMN, ids)


def _read_test(
    path: Path,
    train_columns: list[str],
    train_file: str,
    encode_moa: bool,
    id_col: str | None,
    group_col: str | None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    """Test features, columns ordered as in training, MoA columns encoded."""
    df, _, ids = read_table(path, id_col)
    if group_col is not None and group_col in df.columns:
        df = df.drop(columns=[group_col])  # groups are a training notion
    v.check_test_columns(train_columns, list(df.columns), train_file, path.name)
    df = df[train_columns]
    known_negative = None
    if encode_moa:
        df, known_negative = encode_moa_columns(df, path.name)
    return df, ids, known_negative


def _check_submission(
    path: Path,
    target_names: tuple[str, ...],
    test_ids: np.ndarray | None,
    targets_file: str,
    id_col: str | None,
) -> None:
    """``sample_submission`` must name exactly the scored targets (in any order)."""
    df, id_name, ids = read_table(path, id_col)
    columns, names = set(df.columns), set(target_names)
    missing = [c for c in target_names if c not in columns]
    extra = [c for c in df.columns if c not in names]
    if missing or extra:
        parts = []
        if missing:
            parts.append(
                f"{v.count(len(missing), 'scored target')} missing ({v.fmt_examples(missing, 5)})"
            )
        if extra:
            parts.append(f"{v.count(len(extra), 'unknown column')} ({v.fmt_examples(extra, 5)})")
        raise v.data_error(
            f"{path.name}: target columns differ from {targets_file}: {'; '.join(parts)}; "
            "expected the same target columns"
        )
    if test_ids is not None:
        unknown = ids[~pd.Index(ids).isin(test_ids)]
        absent = test_ids[~pd.Index(test_ids).isin(ids)]
        if unknown.size or absent.size:
            raise v.data_error(
                f"{path.name}: column {id_name!r} differs from the test feature ids "
                f"({_count_ids(unknown)} not in the test features, {_count_ids(absent)} missing); "
                "expected the same ids"
            )


def _count_ids(ids: np.ndarray) -> str:
    """'2 ids (e.g. 'a', 'b')' or '0 ids'."""
    return v.count(ids.size, "id") + (f" (e.g. {v.fmt_examples(ids)})" if ids.size else "")


def _assemble(
    src: _Sources, *, id_col: str | None, group_col: str | None, name: str, source: str
) -> Dataset:
    """Read, validate and align every file of ``src`` into a :class:`Dataset`."""
    ffile, tfile = src.features.name, src.targets.name
    fdf, id_name, ids = read_table(src.features, id_col)
    tdf, _, target_ids = read_table(src.targets, id_col)
    order = v.align_ids(ids, target_ids, ffile, tfile, id_name)

    groups = None
    if group_col is not None:
        if group_col not in fdf.columns:
            raise v.data_error(
                f"{ffile}: group column {group_col!r} (--group-col) not found; columns start "
                f"with {v.fmt_examples([id_name, *fdf.columns], 5)}"
            )
        groups = v.group_values(fdf[group_col], ffile, group_col, ids)
        fdf = fdf.drop(columns=[group_col])
    elif src.drug is not None:
        groups = _read_groups_file(src.drug, ids, ffile, id_col)

    raw_columns = list(fdf.columns)
    known_negative = None
    # MoA files given explicitly or in a generic folder are recognised by their cp_type column
    encode_moa = src.moa or MOA_COLUMNS[0] in raw_columns
    if encode_moa:
        fdf, known_negative = encode_moa_columns(fdf, ffile)
    tdf = tdf.iloc[order].reset_index(drop=True)
    v.check_disjoint(raw_columns, list(tdf.columns), ffile, tfile)
    X = v.numeric_matrix(fdf, ffile, ids, "feature")
    Y = v.binary_matrix(tdf, tfile, ids)
    target_names = tuple(tdf.columns)
    if known_negative is not None:
        v.check_trainable(known_negative, ffile)
        v.check_known_negative(Y, known_negative, ids, tfile)
    v.warn_no_positive(Y, target_names, tfile)

    Y_aux, aux_names = None, ()
    if src.aux is not None:
        adf, _, aux_ids = read_table(src.aux, id_col)
        aux_order = v.align_ids(ids, aux_ids, ffile, src.aux.name, id_name)
        adf = adf.iloc[aux_order].reset_index(drop=True)
        v.check_disjoint(raw_columns, list(adf.columns), ffile, src.aux.name)
        Y_aux, aux_names = v.binary_matrix(adf, src.aux.name, ids), tuple(adf.columns)

    X_test = test_ids = test_known_negative = None
    if src.test is not None:
        test_df, test_ids, test_known_negative = _read_test(
            src.test, raw_columns, ffile, encode_moa, id_col, group_col
        )
        X_test = v.numeric_matrix(test_df, src.test.name, test_ids, "feature")
    if src.submission is not None:
        _check_submission(src.submission, target_names, test_ids, tfile, id_col)

    feature_names = tuple(fdf.columns)
    return Dataset(
        X=X,
        Y=Y,
        feature_names=feature_names,
        target_names=target_names,
        ids=ids,
        groups=groups,
        Y_aux=Y_aux,
        aux_names=aux_names,
        known_negative=known_negative,
        X_test=X_test,
        test_ids=test_ids,
        test_known_negative=test_known_negative,
        name=name,
        id_name=id_name,
        source=source,
        input_columns=tuple(raw_columns),
        moa_encoded=encode_moa,
        group_name=group_col,
        fingerprint=fingerprint(
            X, Y, ids, feature_names, target_names, groups=groups, known_negative=known_negative
        ),
    )


def bundled_path(name: str) -> Path:
    """Directory of the bundled dataset ``name`` (e.g. ``yeast``).

    Raises:
        DataError: if no such dataset is bundled.
    """
    root = files("automoa.data.bundled")
    available = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0] not in "._")
    if name not in available:
        raise v.data_error(
            f"{BUNDLED_PREFIX}{name}: unknown bundled dataset; expected one of "
            f"{', '.join(BUNDLED_PREFIX + a for a in available)}"
        )
    # Packages are installed as plain directories (no zip imports), so this is a real path.
    return Path(str(root / name))


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".gz", ".csv", ".parquet"):
        name = name.removesuffix(ext)
    return name


def load(
    path: str | Path | None = None,
    *,
    features: str | Path | None = None,
    targets: str | Path | None = None,
    test_features: str | Path | None = None,
    id_col: str | None = None,
    group_col: str | None = None,
    name: str | None = None,
) -> Dataset:
    """Load a multi-label dataset from a directory, explicit files or a bundled name.

    Args:
        path: a directory in the Kaggle MoA or generic layout, ``"bundled:yeast"``, or a features
            file when ``targets`` is given.
        features: features file (instead of ``path``).
        targets: targets file (with ``features``).
        test_features: optional test features file (with ``features``).
        id_col: id column name; default the first column named ``id`` or ``sig_id``.
        group_col: a features column holding row groups (removed from the features); in the MoA
            layout it replaces ``train_drug``.
        name: dataset name; default the directory name or the features file stem.

    Returns:
        The validated :class:`Dataset`, rows in features-file order, with its fingerprint.

    Raises:
        DataError: on any missing, unreadable or inconsistent input (one-line message).
    """
    options = {"id_col": id_col, "group_col": group_col}
    if isinstance(path, str) and path.startswith(BUNDLED_PREFIX):
        bundled = path[len(BUNDLED_PREFIX) :]
        src = _sources_from_directory(bundled_path(bundled))
        dataset = _assemble(src, **options, name=name or bundled, source=path)
        return replace(dataset, load_spec={"path": path, **options, "name": name})
    if path is not None and features is None and targets is not None:
        features, path = path, None  # load("train.csv", targets="y.csv")
    if path is not None:
        if features is not None or test_features is not None:
            raise v.data_error(
                f"{path}: give either a data directory or features=/targets= files, not both"
            )
        directory = Path(path)
        if not directory.exists():
            raise v.data_error(f"{directory}: data directory not found")
        if not directory.is_dir():
            raise v.data_error(
                f"{directory}: is a file; expected a data directory (or a features file with a "
                "targets file)"
            )
        src = _sources_from_directory(directory)
        dataset = _assemble(
            src, **options, name=name or directory.absolute().name, source=str(directory.absolute())
        )
        return replace(
            dataset, load_spec={"path": str(directory.absolute()), **options, "name": name}
        )
    if features is None or targets is None:
        raise v.data_error(
            "no data given: expected a data directory, 'bundled:<name>', or both features= and "
            f"targets= files (got features={features}, targets={targets})"
        )
    fpath = Path(features)
    src = _Sources(
        features=fpath,
        targets=Path(targets),
        test=Path(test_features) if test_features is not None else None,
    )
    dataset = _assemble(src, **options, name=name or _stem(fpath), source=str(fpath.absolute()))
    files = {
        "features": str(fpath.absolute()),
        "targets": str(Path(targets).absolute()),
        "test_features": None if test_features is None else str(Path(test_features).absolute()),
    }
    return replace(dataset, load_spec={**files, **options, "name": name})


def write_predictions(
    path: str | Path,
    id_name: str,
    ids: np.ndarray,
    target_names: tuple[str, ...],
    proba: np.ndarray,
    *,
    exclusive: bool = False,
) -> None:
    """Write ids + target columns as CSV, atomically (write to a temporary file, then rename).

    Args:
        path: the CSV to write (its directory is created).
        id_name: the id column's name, written first.
        ids: one id per row.
        target_names: the target columns, in order.
        proba: float (n, L) predictions, one column per target.
        exclusive: never replace a file that exists by the time the CSV is complete.

    Raises:
        FileExistsError: with ``exclusive``, when ``path`` exists.
    """
    path = Path(path)
    frame = pd.DataFrame(proba, columns=list(target_names))
    frame.insert(0, id_name, ids)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w", exclusive=exclusive, newline="") as out:
        frame.to_csv(out, index=False, float_format="%.8g")
