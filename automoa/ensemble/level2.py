"""Level-2 stages: models that replace the weighted average of the selected members.

Each stage is an object with a cost estimate (in candidate passes, see
:mod:`automoa.ensemble.variants`), an honest estimate nested in the folds (for each fold, the
members selected without it and a model fitted without it) and its final fit:

- ``calibration``: per-label logistic regression on the blend's logit (Platt scaling);
- ``stacking``: per-label logistic regression on every member's logit;
- ``cross_label``: per-label logistic regression on the blend's logits of the label and of the
  labels most correlated with it (the MoA winners' last stage saw all labels at once).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from automoa.ensemble.checks import Candidates
from automoa.ensemble.crosslabel import (
    CrossLabelStacker,
    HonestCrossLabel,
    fit_cross_label,
    honest_cross_label,
)
from automoa.ensemble.selection import HonestResult
from automoa.ensemble.stacking import HonestStacking, Stacker, fit_stacker, honest_stacking

#: A fitted level-2 model: what :class:`automoa.ensemble.combiner.Combiner` applies.
Level2Model = Stacker | CrossLabelStacker

#: Passes per member and per regression feature of one fit, from
#: benchmarks/ensemble_selection.py (24k x 206, 17 members: calibration 10 s and stacking 23 s
#: for 5 nested fits and the final one, at 5.5 ms per pass).
_PASSES_PER_MEMBER = 18.0
_PASSES_PER_FEATURE = 40.0


@dataclass(frozen=True)
class NestedEstimate:
    """A level-2 stage's honest estimate.

    Attributes:
        score: the metric of :attr:`oof` over all rows.
        oof: float32 (n, L) held-out predictions, each fold's from a model fitted without it.
    """

    score: float
    oof: np.ndarray


class Level2Stage(ABC):
    """One level-2 alternative to the weighted average: its cost, its nested (honest) estimate
    and its final fit. Subclasses differ in what the per-label regressions read."""

    #: the stage's name in reports and in ``PipelineOptions.level2``
    name: ClassVar[str]
    #: the nested estimate (``honest_stacking`` or ``honest_cross_label``), given the stage's
    #: options
    _estimate: ClassVar[Callable[..., HonestStacking | HonestCrossLabel]]
    #: the final fit (``fit_stacker`` or ``fit_cross_label``), given the stage's options
    _fit_model: ClassVar[Callable[..., Level2Model]]

    @property
    @abstractmethod
    def note(self) -> str:
        """What the stage is, for reports."""

    @abstractmethod
    def _features(self, n_members: int) -> int:
        """Regression features per label."""

    @abstractmethod
    def _options(self) -> dict[str, Any]:
        """The stage's keyword options of :attr:`_estimate` and :attr:`_fit_model`."""

    def passes(self, n_members: int, n_folds: int) -> float:
        """Candidate passes of the nested estimate and the final fit."""
        per_fit = _PASSES_PER_MEMBER * n_members + _PASSES_PER_FEATURE * self._features(n_members)
        return (n_folds + 1) * per_fit

    def unusable(self, n_members: int, n_labels: int) -> str | None:
        """Why the stage cannot run on this ensemble, or ``None``."""
        return None

    def honest(
        self,
        oofs: Candidates,
        Y: np.ndarray,
        fold_of: np.ndarray,
        selection: HonestResult,
        known_negative: np.ndarray | None,
    ) -> NestedEstimate:
        """The nested estimate on the ensembles selected without each fold."""
        nested = self._estimate(
            oofs,
            Y,
            fold_of,
            selection.ensembles,
            selection.folds,
            known_negative=known_negative,
            **self._options(),
        )
        return NestedEstimate(score=float(nested.score), oof=nested.oof)

    def fit(
        self,
        member_oofs: Sequence[np.ndarray],
        Y: np.ndarray,
        weights: Sequence[float],
        known_negative: np.ndarray | None,
    ) -> Level2Model:
        """The final model, fitted on every row's out-of-fold predictions."""
        return self._fit_model(
            member_oofs, Y, weights, known_negative=known_negative, **self._options()
        )


@dataclass(frozen=True)
class _PerLabelStacking(Level2Stage):
    """Per-label logistic regression on the blend's logit or on every member's logit."""

    #: ``"blend"`` or ``"members"``: what each label's regression reads
    reads: ClassVar[str]
    _estimate = staticmethod(honest_stacking)
    _fit_model = staticmethod(fit_stacker)

    @property
    def note(self) -> str:
        what = "the members' logits" if self.reads == "members" else "the blend's logit"
        return f"per-label logistic regression on {what}"

    def _features(self, n_members: int) -> int:
        return n_members if self.reads == "members" else 1

    def _options(self) -> dict[str, Any]:
        return {"features": self.reads}


@dataclass(frozen=True)
class CalibrationStage(_PerLabelStacking):
    """Platt scaling of the blend, label by label."""

    name: ClassVar[str] = "calibration"
    reads: ClassVar[str] = "blend"


@dataclass(frozen=True)
class StackingStage(_PerLabelStacking):
    """Per-label stacking of the members' logits."""

    name: ClassVar[str] = "stacking"
    reads: ClassVar[str] = "members"

    def unusable(self, n_members: int, n_labels: int) -> str | None:
        return "one member: nothing to stack" if n_members < 2 else None


@dataclass(frozen=True)
class CrossLabelStage(Level2Stage):
    """Each label's regression reads the blend's logits of the label and its ``n_neighbours``
    most correlated labels."""

    n_neighbours: int = 5
    name: ClassVar[str] = "cross_label"
    _estimate = staticmethod(honest_cross_label)
    _fit_model = staticmethod(fit_cross_label)

    @property
    def note(self) -> str:
        return (
            "per-label logistic regression on the blend's logits of the label and its "
            f"{self.n_neighbours} most correlated labels"
        )

    def _features(self, n_members: int) -> int:
        return 1 + self.n_neighbours

    def unusable(self, n_members: int, n_labels: int) -> str | None:
        return "one label: no other label to read" if n_labels < 2 else None

    def _options(self) -> dict[str, Any]:
        return {"n_neighbours": self.n_neighbours}


def standard_stages(n_neighbours: int = 5) -> list[Level2Stage]:
    """The level-2 stages the ensemble step tries, cheapest first."""
    return [CalibrationStage(), CrossLabelStage(n_neighbours), StackingStage()]


def level2_from_arrays(arrays: dict[str, np.ndarray]) -> Level2Model:
    """Rebuild a level-2 model saved with ``to_arrays`` (the ``kind`` array tells which).

    Raises:
        ConfigError: malformed arrays.
    """
    if "kind" in arrays and str(np.asarray(arrays["kind"])) == "cross_label":
        return CrossLabelStacker.from_arrays(arrays)
    return Stacker.from_arrays(arrays)


def level2_method(model: Level2Model | None) -> str:
    """The report's name of what combines the members: ``average`` or the level-2 stage."""
    if model is None:
        return "average"
    if isinstance(model, CrossLabelStacker):
        return "cross_label"
    return "calibration" if model.on_blend else "stacking"
