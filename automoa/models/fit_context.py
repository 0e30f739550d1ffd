"""What :meth:`ModelFamily.fit <automoa.models.base.ModelFamily.fit>` hands a family, and keeps.

:class:`FitContext` is everything a family's ``_fit`` gets besides its training rows.
:class:`ConstantLabels` is what the template keeps from it: the labels constant in the
training fold and the prior each is predicted with, spliced back into every prediction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from automoa.deadline import Deadline
from automoa.exceptions import DataError
from automoa.metrics import prior_probabilities

if TYPE_CHECKING:
    from collections.abc import Mapping

    from automoa.config import LossConfig


def _no_limit() -> Deadline:
    return Deadline(None)


@dataclass(frozen=True)
class FitContext:
    """Everything a family's ``_fit`` gets besides its training rows.

    Attributes:
        X_val: validation features, for early stopping only (never fitted on), or ``None``.
        Y_val: validation labels of the labels ``_fit`` is given, or ``None``.
        deadline: the budget: long loops call ``deadline.check(what)``, which raises
            :class:`~automoa.exceptions.BudgetExhausted` once it has passed (without a limit
            when the caller gave none).
        seed: random seed.
        device: ``"cpu"`` or ``"cuda"``; families that cannot use it ignore it.
        loss: the trial's training loss (families with ``uses_loss``; others ignore it), or
            ``None`` for plain binary cross-entropy.
        Y_aux: auxiliary (non-scored) labels of the first ``len(Y_aux)`` training rows (rows
            added by oversampling come after them and have none), or ``None``; families that
            cannot use them ignore them.
        groups: group labels (e.g. drug ids) of the first ``len(groups)`` training rows, like
            ``Y_aux``, or ``None``. Inner splits of the training fold (per-label penalty choice,
            two-stage models) keep each group whole; rows added by oversampling have no group
            and never sit on an inner validation side.
    """

    X_val: np.ndarray | None = None
    Y_val: np.ndarray | None = None
    deadline: Deadline = field(default_factory=_no_limit)
    seed: int = 0
    device: str = "cpu"
    loss: LossConfig | None = None
    Y_aux: np.ndarray | None = None
    groups: np.ndarray | None = None


def check_fit_inputs(
    X: np.ndarray,
    Y: np.ndarray,
    X_val: np.ndarray | None,
    Y_val: np.ndarray | None,
    Y_aux: np.ndarray | None,
    groups: np.ndarray | None,
) -> None:
    """Refuse arrays that do not describe one training fold.

    Raises:
        DataError: naming the array whose shape is off.
    """
    if np.ndim(X) != 2 or np.ndim(Y) != 2 or len(X) != len(Y):
        raise DataError(
            f"fit: expected X (n, d) and Y (n, L) with the same rows, "
            f"got {np.shape(X)} and {np.shape(Y)}"
        )
    if Y_val is not None and (np.ndim(Y_val) != 2 or np.shape(Y_val)[1] != np.shape(Y)[1]):
        raise DataError(f"Y_valid: expected (n, {np.shape(Y)[1]}) labels, got {np.shape(Y_val)}")
    if X_val is not None and Y_val is not None and len(X_val) != len(Y_val):
        raise DataError(f"Y_valid: {len(Y_val)} rows for {len(X_val)} validation rows")
    for name, rows in (("Y_aux", Y_aux), ("groups", groups)):
        # They label the original rows, which come first; resampled rows have none.
        if rows is not None and len(rows) > len(X):
            raise DataError(f"{name}: {len(rows)} rows for {len(X)} training rows")


@dataclass(frozen=True, eq=False)
class ConstantLabels:
    """The labels constant in a training fold, and the prior every label is predicted with.

    A label with no positive or no negative in the training fold has nothing to learn: it is
    predicted with its smoothed training rate.

    Attributes:
        mask: (L,) bool, True on the constant labels.
        rates: (L,) float32 smoothed training rate of every label (saved states hold all L).
    """

    mask: np.ndarray
    rates: np.ndarray

    @classmethod
    def of(cls, Y: np.ndarray, smoothing: float = 1.0) -> ConstantLabels:
        """The constant labels of training labels ``Y`` (n, L).

        Args:
            Y: 0/1 labels of the training fold (resampled rows included).
            smoothing: additive smoothing of the rates (1: Laplace; see
                :func:`~automoa.metrics.prior_probabilities`).
        """
        positives = Y.sum(axis=0)
        mask = (positives == 0) | (positives == len(Y))
        return cls(mask, prior_probabilities(Y, smoothing).astype(np.float32))

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> ConstantLabels:
        """Read the arrays written by :meth:`arrays` (a saved model state)."""
        return cls(
            np.asarray(arrays["constant_labels"], dtype=bool),
            np.asarray(arrays["constant_rates"], dtype=np.float32),
        )

    def arrays(self) -> dict[str, np.ndarray]:
        """The state arrays, under the names every saved model state has used."""
        return {"constant_labels": self.mask, "constant_rates": self.rates}

    @property
    def n_labels(self) -> int:
        """All labels, constant or not."""
        return len(self.mask)

    @property
    def varying(self) -> np.ndarray:
        """Indices of the labels that vary (the ones a family's ``_fit`` is given)."""
        return np.flatnonzero(~self.mask)

    def restrict(self, values: np.ndarray) -> np.ndarray:
        """The varying labels' part of ``values`` (labels on the last axis), contiguous."""
        return np.ascontiguousarray(values[..., self.varying])

    def expand(self, values: np.ndarray, fill: float) -> np.ndarray:
        """``values`` of the varying labels (last axis) widened to all labels with ``fill``.

        Used to save a state in the format that holds every label.
        """
        out = np.full((*values.shape[:-1], self.n_labels), fill, dtype=values.dtype)
        out[..., self.varying] = values
        return out

    def splice(self, proba: np.ndarray) -> np.ndarray:
        """Probabilities of every label: the constant labels' rates spliced into ``proba``.

        Args:
            proba: (..., k) probabilities of the varying labels (k of them), or of every label
                (k = L, from a family that trains on the constant labels too; their columns are
                replaced). ``proba`` itself is left as it is.

        Raises:
            DataError: if ``proba`` has neither width.
        """
        varying = self.varying
        if proba.shape[-1] == self.n_labels:
            out = proba.copy()
        elif proba.shape[-1] == len(varying):
            out = np.empty((*proba.shape[:-1], self.n_labels), dtype=proba.dtype)
            out[..., varying] = proba
        else:
            raise DataError(
                f"a model predicted {proba.shape[-1]} labels; expected {self.n_labels} "
                f"or the {len(varying)} that vary in training"
            )
        out[..., self.mask] = self.rates[self.mask]
        return out
