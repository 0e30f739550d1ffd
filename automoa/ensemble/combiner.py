"""How an ensemble turns its members' predictions into one: weights or stacking, then clipping.

The same :class:`Combiner` blends the test predictions at the end of a search and the
predictions of an exported bundle, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from automoa.ensemble.clipping import Clip
from automoa.ensemble.crosslabel import CrossLabelStacker
from automoa.ensemble.level2 import Level2Model
from automoa.exceptions import DataError


@dataclass(frozen=True, eq=False)
class Combiner:
    """The last stage of an ensemble.

    Attributes:
        weights: weight of each member (sum 1), the greedy selection's.
        stacker: a level-2 model replacing the weighted average (per-label or cross-label
            stacker), when it was kept.
        clip: bounds applied last, when they were kept.
    """

    weights: tuple[float, ...]
    stacker: Level2Model | None = None
    clip: Clip | None = None

    def combine(
        self, member_preds: Sequence[np.ndarray], known_negative: np.ndarray | None = None
    ) -> np.ndarray:
        """Combine the members' (n, L) predictions (member order) into float32 (n, L).

        Raises:
            DataError: if the number of members or their shapes differ from what was fitted.
        """
        if len(member_preds) != len(self.weights):
            raise DataError(
                f"combiner: expected predictions of {len(self.weights)} members, got "
                f"{len(member_preds)}"
            )
        shapes = {np.shape(p) for p in member_preds}
        if len(shapes) != 1:
            raise DataError(f"combiner: members' predictions differ in shape: {sorted(shapes)}")
        if self.stacker is not None:
            blend = self.stacker.predict(member_preds, known_negative)
        else:
            total = np.zeros(next(iter(shapes)), dtype=np.float64)
            for weight, pred in zip(self.weights, member_preds, strict=True):
                total += weight * np.asarray(pred, dtype=np.float64)
            blend = total.astype(np.float32)
        if self.clip is not None:
            blend = self.clip.apply(blend, known_negative)
        if known_negative is not None:
            blend[np.asarray(known_negative, dtype=bool)] = 0.0
        return blend

    def describe(self) -> str:
        """One line, e.g. ``stacking of 3 members, clipped to [1e-05, 1 - 0.0001]``."""
        n = len(self.weights)
        if self.stacker is None:
            what = f"weighted average of {n} members"
        elif isinstance(self.stacker, CrossLabelStacker):
            what = f"weighted average of {n} members, stacked across labels"
        elif self.stacker.on_blend:
            what = f"weighted average of {n} members, calibrated per label"
        else:
            what = f"stacking (per-label logistic regression) of {n} members"
        if self.clip is not None and not self.clip.is_identity:
            what += f", clipped to [{self.clip.low:g}, 1 - {self.clip.high:g}]"
        return what
