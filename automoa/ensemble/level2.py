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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automoa.ensemble.checks import Candidates
from automoa.ensemble.crosslabel import CrossLabelStacker, fit_cross_label, honest_cross_label
from automoa.ensemble.selection import HonestResult
from automoa.ensemble.stacking import Stacker, fit_stacker, honest_stacking

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


@dataclass(frozen=True)
class Level2Stage:
    """One level-2 alternative to the weighted average.

    Attributes:
        name: ``calibration``, ``stacking`` or ``cross_label``.
        note: what it is, for reports.
        n_neighbours: labels read besides the label itself (``cross_label`` only).
    """

    name: str
    note: str
    n_neighbours: int = 0

    def passes(self, n_members: int, n_folds: int) -> float:
        """Candidate passes of the nested estimate and the final fit."""
        features = n_members if self.name == "stacking" else 1 + self.n_neighbours
        per_fit = _PASSES_PER_MEMBER * n_members + _PASSES_PER_FEATURE * features
        return (n_folds + 1) * per_fit

    def unusable(self, n_members: int, n_labels: int) -> str | None:
        """Why the stage cannot run on this ensemble, or ``None``."""
        if self.name == "stacking" and n_members < 2:
            return "one member: nothing to stack"
        if self.name == "cross_label" and n_labels < 2:
            return "one label: no other label to read"
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
        if self.name == "cross_label":
            nested = honest_cross_label(
                oofs,
                Y,
                fold_of,
                selection.ensembles,
                selection.folds,
                known_negative=known_negative,
                n_neighbours=self.n_neighbours,
            )
        else:
            nested = honest_stacking(
                oofs,
                Y,
                fold_of,
                selection.ensembles,
                selection.folds,
                known_negative=known_negative,
                features="blend" if self.name == "calibration" else "members",
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
        if self.name == "cross_label":
            return fit_cross_label(
                member_oofs,
                Y,
                weights,
                known_negative=known_negative,
                n_neighbours=self.n_neighbours,
            )
        return fit_stacker(
            member_oofs,
            Y,
            weights,
            known_negative=known_negative,
            features="blend" if self.name == "calibration" else "members",
        )


def standard_stages(n_neighbours: int = 5) -> list[Level2Stage]:
    """The level-2 stages the ensemble step tries, cheapest first."""
    return [
        Level2Stage("calibration", "per-label logistic regression on the blend's logit"),
        Level2Stage(
            "cross_label",
            f"per-label logistic regression on the blend's logits of the label and its "
            f"{n_neighbours} most correlated labels",
            n_neighbours=n_neighbours,
        ),
        Level2Stage("stacking", "per-label logistic regression on the members' logits"),
    ]


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
