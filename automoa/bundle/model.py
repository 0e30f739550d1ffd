"""A loaded bundle: :func:`load` verifies it, :meth:`ExportedModel.predict_proba` applies it."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from automoa.bundle.checks import array_byte_limit, check_manifest_values
from automoa.bundle.manifest import MANIFEST, bundle_file, read_verified
from automoa.data import validation as v
from automoa.data.arrays import FEATURE_PREFIX, as_frame
from automoa.data.io import read_table, write_predictions
from automoa.data.moa import MOA_COLUMNS, encode_moa_columns
from automoa.ensemble.clipping import Clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.level2 import level2_from_arrays
from automoa.exceptions import BundleError, ConfigError, DataError
from automoa.fitted import FoldModel, load_fold_models, read_array
from automoa.metrics import mean_columnwise_log_loss
from automoa.preprocessing.impute import chain_imputes


class ExportedModel:
    """An exported ensemble, ready to predict: what :func:`automoa.load` returns.

    It predicts like a fitted :class:`automoa.AutoMoAClassifier`: :meth:`predict_proba` returns
    one ``(n_samples, n_labels)`` array of positive-class probabilities.

    Attributes:
        path: the bundle directory.
        manifest: its verified manifest.
        target_names: the predicted targets, in training order.
        input_columns: the feature columns new data must have (any order).
        id_column: the id column of the training files (dropped from inputs, kept in files).
        n_features_in_: how many feature columns new data has.
        feature_names_in_: those columns' names, when training had named columns.
        classes_: ``0 .. n_labels - 1``, the label indices (scikit-learn's multi-label form).
    """

    def __init__(
        self,
        path: Path,
        manifest: dict[str, Any],
        members: list[list[FoldModel]],
        combiner: Combiner,
    ) -> None:
        self.path = path
        self.manifest = manifest
        self.members = members
        self.combiner = combiner
        self.target_names = tuple(manifest["target_names"])
        self.feature_names = tuple(manifest["feature_names"])
        spec = manifest["input"]
        self.input_columns = tuple(spec["columns"])
        self.id_column = str(spec["id_column"])
        self._moa_encoded = bool(spec["moa_encoded"])
        self._group_column = spec.get("group_column")
        self._positional = bool(spec.get("positional", False))
        self._zero_known_negative = bool(manifest["combiner"]["zero_known_negative"])
        self.n_features_in_ = len(self.input_columns)
        if not self._positional:
            self.feature_names_in_ = np.asarray(self.input_columns, dtype=object)
        self.classes_ = np.arange(len(self.target_names))
        # Trained on data with missing values: every member's chain starts by imputing them.
        self.accepts_missing = all(
            chain_imputes([type(step).name for step in fold.chain.steps])
            for fold_models in members
            for fold in fold_models
        )

    def __repr__(self) -> str:
        return (
            f"ExportedModel({str(self.path)!r}: {self.combiner.describe()}, "
            f"{len(self.input_columns)} input columns, {len(self.target_names)} targets)"
        )

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def _features(self, data: pd.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Validated float32 features (and known-negative mask) from raw input columns."""
        frame = data.drop(
            columns=[c for c in (self.id_column, self._group_column) if c and c in data.columns]
        )
        frame.columns = [str(c) for c in frame.columns]
        v.check_test_columns(self.input_columns, list(frame.columns), "the training data", source)
        frame = frame[list(self.input_columns)]
        known_negative = None
        if self._moa_encoded:
            frame, known_negative = encode_moa_columns(frame, source)
        if tuple(frame.columns) != self.feature_names:
            raise BundleError(f"{self.path}: encoded columns differ from the manifest's features")
        if self.id_column in data.columns:
            ids = data[self.id_column].astype(str).to_numpy()
        else:
            ids = data.index.astype(str).to_numpy()
        X = v.numeric_matrix(frame, source, ids, "feature", allow_missing=self.accepts_missing)
        return X, known_negative if self._zero_known_negative else None

    def _any_features(self, X: Any, source: str) -> tuple[np.ndarray, np.ndarray | None]:
        """Features from a DataFrame (by column name, unless trained on an array) or an array."""
        if isinstance(X, pd.DataFrame) and not self._positional:
            return self._features(X, source)
        if self._moa_encoded:
            raise DataError(
                f"{source}: the model was trained on named columns with MoA categoricals "
                f"({', '.join(MOA_COLUMNS)}); expected a DataFrame with its columns"
            )
        frame = as_frame(X, source, FEATURE_PREFIX, one_column_ok=False)
        if frame.shape[1] != self.n_features_in_:
            raise DataError(
                f"{source}: X has {frame.shape[1]} features, but the model is expecting "
                f"{self.n_features_in_} features as input"
            )
        ids = np.arange(len(frame)).astype(str)
        missing_ok = self.accepts_missing
        return v.numeric_matrix(frame, source, ids, "feature", allow_missing=missing_ok), None

    def predict_array(self, X: np.ndarray, known_negative: np.ndarray | None = None) -> np.ndarray:
        """Predictions for already encoded features (``feature_names`` order), float32 (n, L)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ConfigError(
                f"X: expected shape (n, {len(self.feature_names)}), got {tuple(X.shape)}"
            )
        member_preds = []
        for member, fold_models in zip(self.manifest["members"], self.members, strict=True):
            total = np.zeros((X.shape[0], len(self.target_names)), dtype=np.float64)
            for fitted in fold_models:
                pred = fitted.predict_proba(X)
                if pred.shape != total.shape:
                    raise BundleError(
                        f"{self.path}: member trial {member.get('trial')} predicts "
                        f"{pred.shape[1]} targets but the manifest lists "
                        f"{len(self.target_names)}; the bundle is inconsistent"
                    )
                total += pred
            member_preds.append((total / len(fold_models)).astype(np.float32))
        return self.combiner.combine(member_preds, known_negative)

    def predict_proba(self, X: Any, *, source: str = "X") -> np.ndarray:
        """Positive-class probability of every label for the rows of ``X``.

        Args:
            X: a DataFrame with the raw feature columns of training (any order; the id and
                group columns, if present, are ignored; MoA categoricals are encoded as in
                training and control rows are predicted 0), or an array with the columns in
                training order. A model trained on an array matches columns by position.
            source: the input's name in error messages.

        Returns:
            float32 array of shape ``(n_samples, n_labels)``, labels in training order (not
            scikit-learn's list of ``(n_samples, 2)`` arrays per output).

        Raises:
            DataError: missing or extra columns, non-numeric or non-finite values.
        """
        features, known_negative = self._any_features(X, source)
        return self.predict_array(features, known_negative)

    def predict(self, X: Any, threshold: float = 0.5) -> np.ndarray:
        """0/1 labels: :meth:`predict_proba` at or above ``threshold``, shape (n, L)."""
        return (self.predict_proba(X) >= threshold).astype(np.int64)

    def score(self, X: Any, y: Any) -> float:
        """Negative mean column-wise log loss of :meth:`predict_proba` (higher is better)."""
        return -mean_columnwise_log_loss(np.asarray(y), self.predict_proba(X))

    def predict_frame(self, data: pd.DataFrame, *, source: str = "input") -> pd.DataFrame:
        """:meth:`predict_proba` as a frame with ``data``'s index and one column per target."""
        proba = self.predict_proba(data, source=source)
        return pd.DataFrame(proba, index=data.index, columns=list(self.target_names))

    def predict_file(
        self, data: str | Path, out: str | Path, *, overwrite: bool = False
    ) -> pd.DataFrame:
        """Predict the rows of a features file and write ids + targets to ``out`` (CSV).

        Args:
            data: the features file.
            out: the CSV to create.
            overwrite: replace a regular file already at ``out`` (a symbolic link there is
                refused either way); without it, ``out`` is created exclusively, so a file that
                appears there meanwhile is never lost.

        Returns:
            The written frame.

        Raises:
            ConfigError: ``out`` exists (without ``overwrite``) or is a symbolic link.
        """
        path = Path(data)
        if path.is_dir():
            raise ConfigError(f"--data {path}: is a directory; expected a features file")
        frame, id_name, ids = read_table(path, self.id_column, "the model's id column")
        proba = self.predict_frame(frame, source=path.name)
        out = Path(out)
        if out.is_symlink():
            raise ConfigError(f"--out {out}: is a symbolic link; expected a file to write")
        try:
            write_predictions(
                out, id_name, ids, self.target_names, proba.to_numpy(), exclusive=not overwrite
            )
        except FileExistsError:
            raise ConfigError(
                f"--out {out}: already exists; choose another file or pass --overwrite"
            ) from None
        proba.insert(0, id_name, ids)
        return proba


def load(path: str | Path) -> ExportedModel:
    """Load a bundle written by ``automoa export``, verifying every file first.

    Nothing in a bundle is unpickled or executed: arrays are read with ``allow_pickle=False``
    and only automoa's registered steps and families are restored.

    Raises:
        BundleError: missing, modified, truncated, or of an unknown format.
    """
    root = Path(path)
    manifest = read_verified(root)
    check_manifest_values(manifest, root / MANIFEST)
    limit = array_byte_limit(manifest)
    try:
        members = [
            load_fold_models(bundle_file(root, manifest, m["file"]), limit)[1]
            for m in manifest["members"]
        ]
        spec = manifest["combiner"]
        stacker = None
        if spec.get("stacker_file"):
            stacker_path = bundle_file(root, manifest, spec["stacker_file"])
            with np.load(stacker_path, allow_pickle=False) as z:
                stacker = level2_from_arrays(
                    {k: read_array(z, k, limit, stacker_path.name) for k in z.files}
                )
        clip = None if spec.get("clip") is None else Clip.from_dict(spec["clip"])
        combiner = Combiner(tuple(float(w) for w in spec["weights"]), stacker, clip)
        model = ExportedModel(root, manifest, members, combiner)
    except (KeyError, TypeError, ValueError, AttributeError, ConfigError) as exc:
        raise BundleError(f"{root}: inconsistent manifest ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
        raise BundleError(f"{root}: unreadable stacker file ({exc})") from None
    _check_predicts(model)
    return model


def _check_predicts(model: ExportedModel) -> None:
    """Predict two rows of zeros now, so that model arrays that do not fit the declared
    features and targets fail at load time (one line), never half-way through a prediction."""
    expected = (2, len(model.target_names))
    try:
        proba = model.predict_array(np.zeros((2, len(model.feature_names)), dtype=np.float32))
    except Exception as exc:  # any failure here means arrays inconsistent with the manifest
        raise BundleError(
            f"{model.path}: its model arrays do not fit its {len(model.feature_names)} features "
            f"and {len(model.target_names)} targets ({type(exc).__name__}: {exc})"
        ) from None
    if proba.shape != expected or not np.all((proba >= 0) & (proba <= 1)):
        raise BundleError(
            f"{model.path}: its models predict shape {proba.shape} or values outside [0, 1] "
            f"for {expected[0]} rows of {expected[1]} targets"
        )
