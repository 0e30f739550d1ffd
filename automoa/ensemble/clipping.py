"""Probability clipping fitted on out-of-fold predictions.

A clip maps every prediction p to ``clip(p, low, 1 - high)`` (known-negative rows stay 0): it
caps the loss of confident mistakes at the price of a little loss on confident hits. The metric
(:func:`automoa.metrics.mean_columnwise_log_loss`) is the mean over all cells, since every
column has n rows, and ``low`` only moves cells below 0.5 while ``high`` only moves cells above
0.5 (both bounds are below 0.5). Their effects on the summed loss therefore add up, and each is
chosen on its own grid by the exact change in summed loss over only the cells it moves: the
cells below the largest ``low`` and above ``1 -`` the largest ``high`` are gathered once, and no
grid point recomputes the full metric.

The bounds are compared as the float32 values :meth:`Clip.apply` writes, so the change computed
here is the change the metric sees on the clipped float32 predictions.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automoa.ensemble.checks import check_labels, check_mask, check_probabilities
from automoa.exceptions import ConfigError, DataError
from automoa.folds import check_fold_labels
from automoa.metrics import EPS, mean_columnwise_log_loss

#: Candidate lower bounds (0: no clipping of small predictions).
DEFAULT_LOW_GRID: tuple[float, ...] = (0.0, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3)
#: Candidate upper margins: large predictions are clipped to ``1 - high``.
DEFAULT_HIGH_GRID: tuple[float, ...] = (0.0, 1e-5, 1e-4, 1e-3, 1e-2)

#: Elements per row block when scanning an (n, L) matrix, to bound temporaries.
_BLOCK_ELEMENTS = 1 << 18


@dataclass(frozen=True)
class Clip:
    """Clipping of predictions to ``[low, 1 - high]``.

    Attributes:
        low: lower bound, in [0, 0.5).
        high: margin below 1 of the upper bound, in [0, 0.5).
    """

    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
                raise ConfigError(f"clip {name}: expected a number in [0, 0.5), got {value!r}")
            value = float(value)
            if not 0.0 <= value < 0.5:
                raise ConfigError(f"clip {name}: expected a number in [0, 0.5), got {value!r}")
            object.__setattr__(self, name, value)

    @property
    def is_identity(self) -> bool:
        """Whether the clip leaves every prediction unchanged."""
        return self.low == 0.0 and self.high == 0.0

    def apply(self, P: np.ndarray, known_negative: np.ndarray | None = None) -> np.ndarray:
        """Clip predictions.

        Args:
            P: (n, L) probabilities.
            known_negative: optional (n,) boolean mask of rows set to 0.

        Returns:
            A new float32 (n, L) array.

        Raises:
            DataError: if ``P`` is not an (n, L) matrix of probabilities or the mask is malformed.
        """
        P = check_probabilities("P", P)
        out = np.array(P, dtype=np.float32)
        if not self.is_identity:
            lower, upper = _bounds32(self.low, self.high)
            np.clip(out, lower, upper, out=out)
        if known_negative is not None:
            out[check_mask("known_negative", known_negative, P.shape[0])] = 0.0
        return out

    def to_dict(self) -> dict[str, float]:
        """JSON-able form, restored by :meth:`from_dict`."""
        return {"low": self.low, "high": self.high}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Clip:
        """Rebuild a clip from :meth:`to_dict` output.

        Raises:
            ConfigError: if a key is missing or a bound is out of range.
        """
        missing = [k for k in ("low", "high") if k not in data]
        if missing:
            raise ConfigError(f"clip: missing key(s) {', '.join(missing)}")
        return cls(low=data["low"], high=data["high"])


@dataclass(frozen=True)
class HonestClip:
    """Out-of-fold estimate of fitted clipping.

    Attributes:
        score: the metric over all rows of the predictions clipped fold by fold, each fold by
            the clip chosen on the other folds' rows.
        unclipped_score: the metric of the same predictions unclipped (known-negative rows 0).
        clip: the clip chosen on all rows: the one to apply to new data.
        folds: the fold labels, ascending.
        fold_clips: the clip chosen without each fold's rows.
    """

    score: float
    unclipped_score: float
    clip: Clip
    folds: tuple[int, ...]
    fold_clips: tuple[Clip, ...]


def fit_clip(
    P: np.ndarray,
    Y: np.ndarray,
    *,
    rows: np.ndarray | None = None,
    known_negative: np.ndarray | None = None,
    low_grid: Sequence[float] = DEFAULT_LOW_GRID,
    high_grid: Sequence[float] = DEFAULT_HIGH_GRID,
) -> Clip:
    """Choose the clip with the lowest metric on the given rows.

    Args:
        P: (n, L) out-of-fold probabilities.
        Y: (n, L) 0/1 labels.
        rows: optional (n,) boolean mask of the rows to fit on (None: all rows).
        known_negative: optional (n,) boolean mask of rows whose labels are all 0; they are
            predicted 0 whatever the clip, so they play no part in the choice.
        low_grid: candidate lower bounds, each in [0, 0.5); include 0 to allow no clipping.
        high_grid: candidate upper margins, each in [0, 0.5); include 0 to allow no clipping.

    Returns:
        The best :class:`Clip`; exact ties go to the smaller bound.

    Raises:
        DataError: malformed predictions, labels or masks, or no row to fit on.
        ConfigError: an empty grid or a grid value out of range.
    """
    P = check_probabilities("P", P)
    Yb, kn = check_labels(Y, known_negative, P.shape)
    lows, highs = _check_grid("low_grid", low_grid), _check_grid("high_grid", high_grid)
    fit_rows = ~kn if rows is None else check_mask("rows", rows, P.shape[0]) & ~kn
    if not fit_rows.any():
        raise DataError("rows: no row to fit the clip on (after excluding known-negative rows)")
    return _fit(P, Yb, fit_rows, lows, highs)


def honest_clip(
    P_honest: np.ndarray,
    Y: np.ndarray,
    fold_of: np.ndarray,
    *,
    known_negative: np.ndarray | None = None,
    low_grid: Sequence[float] = DEFAULT_LOW_GRID,
    high_grid: Sequence[float] = DEFAULT_HIGH_GRID,
) -> HonestClip:
    """Score clipping without fitting it on the rows it scores.

    Args:
        P_honest: (n, L) held-out predictions, e.g. :attr:`automoa.ensemble.HonestResult.oof`.
        Y: (n, L) 0/1 labels.
        fold_of: (n,) integer fold of each row, at least 2 folds.
        known_negative: optional (n,) boolean mask of rows predicted 0.
        low_grid: candidate lower bounds, as for :func:`fit_clip`.
        high_grid: candidate upper margins, as for :func:`fit_clip`.

    Returns:
        A :class:`HonestClip`.

    Raises:
        DataError: as :func:`fit_clip`, or ``fold_of`` not of shape (n,).
        ConfigError: as :func:`fit_clip`, or fewer than 2 folds.
    """
    P = check_probabilities("P_honest", P_honest)
    Yb, kn = check_labels(Y, known_negative, P.shape)
    lows, highs = _check_grid("low_grid", low_grid), _check_grid("high_grid", high_grid)
    fold_of, folds = check_fold_labels(fold_of, P.shape[0])
    if kn.all():
        raise DataError("known_negative: every row is known-negative, no row to fit the clip on")
    clipped = np.empty(P.shape, dtype=np.float32)
    fold_clips = []
    for fold in folds:
        in_fold = fold_of == fold
        fit_rows = ~in_fold & ~kn
        # A fold whose complement is all known-negative has nothing to learn from: no clip.
        clip = _fit(P, Yb, fit_rows, lows, highs) if fit_rows.any() else Clip()
        clipped[in_fold] = clip.apply(P[in_fold], kn[in_fold])
        fold_clips.append(clip)
    return HonestClip(
        score=mean_columnwise_log_loss(Yb, clipped),
        unclipped_score=mean_columnwise_log_loss(Yb, Clip().apply(P, kn)),
        clip=_fit(P, Yb, ~kn, lows, highs),
        folds=folds,
        fold_clips=tuple(fold_clips),
    )


# --- fitting --------------------------------------------------------------------------------


def _fit(
    P: np.ndarray,
    Yb: np.ndarray,
    fit_rows: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
) -> Clip:
    """The best clip on the rows in ``fit_rows`` (validated inputs, sorted grids)."""
    lower32 = np.array([_bounds32(low, 0.0)[0] for low in lows])
    upper32 = np.array([_bounds32(0.0, high)[1] for high in highs])
    low_p, low_y, high_p, high_y = _gather(P, Yb, fit_rows, lower32.max(), upper32.min())
    low_delta = [_delta(low_p, low_y, low_p < b, b) for b in lower32]
    high_delta = [_delta(high_p, high_y, high_p > b, b) for b in upper32]
    # argmin returns the first minimum: with ascending grids, ties go to the smaller bound.
    return Clip(low=float(lows[np.argmin(low_delta)]), high=float(highs[np.argmin(high_delta)]))


def _gather(
    P: np.ndarray, Yb: np.ndarray, fit_rows: np.ndarray, below: np.float32, above: np.float32
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """float32 values and labels of the fitted cells below ``below`` and above ``above``."""
    parts: tuple[list[np.ndarray], ...] = ([], [], [], [])
    for block in _row_blocks(*P.shape):
        keep = fit_rows[block]
        if not keep.any():
            continue
        # The cells as apply() writes them (float32), so the losses are the metric's.
        p = np.asarray(P[block][keep], dtype=np.float32)
        y = Yb[block][keep]
        for values, labels, mask in (
            (parts[0], parts[1], p < below),
            (parts[2], parts[3], p > above),
        ):
            values.append(p[mask])
            labels.append(y[mask])
    return tuple(np.concatenate(part) for part in parts)  # type: ignore[return-value]


def _delta(p: np.ndarray, y: np.ndarray, moved: np.ndarray, bound: np.float32) -> float:
    """Change in summed log loss when the cells in ``moved`` are set to ``bound``."""
    n_moved = int(moved.sum())
    if n_moved == 0:
        return 0.0
    n_pos = int(y[moved].sum())
    before = float(_cell_loss(p[moved], y[moved]).sum())
    after = _cell_loss(np.array([bound, bound]), np.array([True, False]))
    return n_pos * float(after[0]) + (n_moved - n_pos) * float(after[1]) - before


def _cell_loss(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-cell log loss exactly as :func:`automoa.metrics.columnwise_log_loss` computes it."""
    q = np.clip(p.astype(np.float64), EPS, 1.0 - EPS)
    return -np.where(y, np.log(q), np.log1p(-q))


def _bounds32(low: float, high: float) -> tuple[np.float32, np.float32]:
    """The float32 bounds :meth:`Clip.apply` clips to."""
    return np.float32(low), np.float32(1.0 - high)


def _row_blocks(n: int, n_labels: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(1, n_labels))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _check_grid(name: str, grid: Sequence[float]) -> np.ndarray:
    """Validate a grid of bounds; return its distinct values ascending."""
    try:
        values = np.asarray(grid, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected numbers in [0, 0.5), got {grid!r}") from None
    if values.ndim != 1 or values.size == 0:
        raise ConfigError(f"{name}: expected a non-empty sequence of numbers, got {grid!r}")
    if not ((values >= 0.0) & (values < 0.5)).all():
        raise ConfigError(f"{name}: expected numbers in [0, 0.5), got {list(values)}")
    return np.unique(values)
