"""The :class:`Dataset` every part of automoa works on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, eq=False)
class Dataset:
    """Training data (and optional test features) for one multi-label problem.

    Attributes:
        X: float32 features, shape (n, d); categoricals already encoded; NaN marks a
            missing value (never infinity).
        Y: uint8 scored targets, shape (n, L), values 0/1.
        feature_names: d column names.
        target_names: L scored target names, in training order.
        ids: n row ids (strings).
        groups: optional n group labels (e.g. MoA ``drug_id``) for group-aware folds.
        Y_aux: optional uint8 (n, A) auxiliary (non-scored) targets.
        aux_names: A auxiliary target names.
        known_negative: optional boolean (n,) mask of rows whose labels are all 0 by
            construction (MoA ``ctl_vehicle`` controls): never trained on, predicted 0.
        X_test: optional float32 test features with the same columns as ``X``.
        test_ids: ids of the test rows.
        test_known_negative: optional boolean mask of known-negative test rows.
        name: a short name for the data (used as the default study name).
        id_name: the id column's name in the input files (``sig_id`` for MoA), used when
            writing predictions.
        source: where the data was read from.
        input_columns: the feature columns of the input file as read (id and group columns
            removed), before encoding; empty when they are ``feature_names``. New data given
            to an exported model must have exactly these columns.
        moa_encoded: whether the MoA columns ``cp_type``/``cp_time``/``cp_dose`` were encoded
            (see :mod:`automoa.data.moa`); new data is encoded the same way.
        group_name: the features column that held the row groups (dropped from new data).
        positional_columns: the features came as an array without column names (named
            ``x0``, ``x1``, ...): new data is matched by position, not by name.
        load_spec: the arguments of :func:`automoa.data.load` that read this data (absolute
            paths), so that a study can find its data again (e.g. for export); ``None`` for
            data built in memory.
        fingerprint: sha256 of the training data; a study refuses data with another one.
    """

    X: np.ndarray
    Y: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    ids: np.ndarray
    groups: np.ndarray | None = None
    Y_aux: np.ndarray | None = None
    aux_names: tuple[str, ...] = ()
    known_negative: np.ndarray | None = None
    X_test: np.ndarray | None = None
    test_ids: np.ndarray | None = None
    test_known_negative: np.ndarray | None = None
    name: str = "data"
    id_name: str = "id"
    source: str = ""
    input_columns: tuple[str, ...] = ()
    moa_encoded: bool = False
    group_name: str | None = None
    positional_columns: bool = False
    load_spec: dict[str, str | None] | None = None
    fingerprint: str = field(default="")

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The feature columns new data must have (``input_columns`` or ``feature_names``)."""
        return self.input_columns or self.feature_names

    @property
    def n_rows(self) -> int:
        """Number of training rows."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of feature columns."""
        return int(self.X.shape[1])

    @property
    def n_labels(self) -> int:
        """Number of scored targets."""
        return int(self.Y.shape[1])

    @property
    def has_missing(self) -> bool:
        """Whether the training or test features hold NaN (imputed in every pipeline)."""
        if np.isnan(self.X).any():
            return True
        return self.X_test is not None and bool(np.isnan(self.X_test).any())

    @property
    def trainable_mask(self) -> np.ndarray:
        """Boolean mask of rows that may be trained on (not known-negative)."""
        if self.known_negative is None:
            return np.ones(self.n_rows, dtype=bool)
        return ~self.known_negative
