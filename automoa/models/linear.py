"""The ``linear`` family: one L2-regularised logistic regression per label, each with its own C.

**Per-label penalty.** A label with 3 positives and one with 800 cannot share a penalty, so each
label chooses its own C from a log-spaced path ``C_min .. C_max``. The choice is honest: the
original training rows are split into inner-train and inner-validation with
:func:`automoa.folds.make_folds` (groups such as drugs kept whole, resampled rows left out of
both), the path is fitted on inner-train from the strongest penalty to the weakest, each point
warm-started from the last, and every label takes the C with the lowest inner-validation log loss
(ties: the stronger penalty). A label with no positive on one side of the inner split has no
evidence to rank the path and takes ``C_min``. The outer validation rows passed to ``fit`` are
never used. The final model is then fitted on the whole training fold with the per-label penalty
vector, warm-started from each label's inner solution. Every solve runs to a gradient tolerance:
stopping early is no longer the regulariser.

**One solver for all labels.** The L per-label problems are independent, so they are solved
jointly by :func:`automoa.models.logistic_solver.solve`: one (n, d) x (d, L) product per
evaluation instead of L separate fits, with each label's own L-BFGS memory, step length and
stopping test. Each label's optimum is the same as fitting it alone;
``tests/models/test_linear.py`` checks this against scikit-learn's ``LogisticRegression``.

**Fast convergence.** Features are standardised with training-fold statistics, then rotated onto
their principal axes (an orthogonal change of basis: same optimum, same L2 penalty). In that basis
each label's Hessian is close to diagonal, so scaling the variables by the roots of its diagonal
(measured at the warm start) leaves L-BFGS a well-conditioned problem: each point is solved in
tens of iterations where the correlated MoA-like features needed hundreds unscaled.

**Per-label undersampling of negatives** (``negative_rate < 1``). Each label is fitted on all its
positives and a random share of its negatives, drawn per label (each label sees other rows), as
users of imbalanced data reach for. A model fitted on negatives kept at rate ``r`` predicts odds
``1 / r`` times too high, so each label's intercept is then moved by ``log r`` (its kept share
of negatives; the prior correction of King and Zeng, 2001): the probabilities stay calibrated
for log loss. The penalty path scores the corrected model on inner-validation rows, none left
out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from automoa.folds import make_folds
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.fit_context import ConstantLabels
from automoa.models.logistic_solver import (
    Targets,
    label_log_loss,
    rotation,
    solve,
    start_intercepts,
)
from automoa.models.registry import register

if TYPE_CHECKING:
    from collections.abc import Callable

    from automoa.models.fit_context import FitContext

CLASS_WEIGHTS = ("none", "balanced")
#: The default path: half-decade steps. On 24k-row MoA-like folds a wider (1e-5 .. 1) or finer
#: path validated no better (a choice made on a fifth of the rows is noisy); this one matched
#: the best, and the weak end beyond 0.3 is the slowest to solve.
DEFAULT_C_MIN = 1e-4
DEFAULT_C_MAX = 0.3
DEFAULT_PATH_SIZE = 8
#: The inner validation side is one fold of this many (a fifth of the original rows).
INNER_SPLITS = 5
#: A label leaves the path after this many points without a better inner-validation loss.
PATH_PATIENCE = 2
#: Largest gradient entry of a solved label in the preconditioned variables (where the
#: objective left is about |gradient|^2 / 2). The path only ranks penalties, so it stops
#: earlier; tighter tolerances (1e-4 / 1e-5) gave the same choices and validation loss.
PATH_TOL = 3e-4
FINAL_TOL = 1e-4


class FittedLinear(FittedModel):
    """Standardisation followed by per-label logistic regression.

    Attributes:
        mean: (d,) the training fold's feature means.
        scale: (d,) its feature standard deviations (1 for a constant feature).
        coef: (d, k) coefficients of the k labels the model was fitted on.
        intercept: (k,) their intercepts.
        C: (k,) the inverse penalty each of them was fitted with.
    """

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        C: np.ndarray | None = None,
    ) -> None:
        self.mean = mean
        self.scale = scale
        self.coef = coef
        self.intercept = intercept
        # States saved before per-label penalties have no C.
        self.C = np.full(coef.shape[1], np.nan) if C is None else C

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        coef, intercept = self.coef, self.intercept
        if self.constant is not None:
            # The product over every label, constant ones with zero coefficients, as the saved
            # format holds them: with fewer columns (one, above all) BLAS may take another path
            # and round the last bit differently.
            coef, intercept = self.constant.expand(coef, 0.0), self.constant.expand(intercept, 0.0)
        Z = ((X - self.mean) / self.scale) @ coef + intercept
        return expit(Z).astype(np.float32)

    def state(self) -> ModelState:
        # The format holds every label: constant ones with zero coefficients and no C.
        constant = self.constant
        return ModelState(
            "linear",
            {},
            {
                "mean": self.mean,
                "scale": self.scale,
                "coef": constant.expand(self.coef, 0.0),
                "intercept": constant.expand(self.intercept, 0.0),
                **constant.arrays(),
                "C": constant.expand(self.C, np.nan),
            },
        )

    @classmethod
    def from_state(cls, state: ModelState) -> FittedLinear:
        arrays = state.arrays
        constant = ConstantLabels.from_arrays(arrays)
        C = arrays.get("C")
        return cls(
            arrays["mean"],
            arrays["scale"],
            constant.restrict(arrays["coef"]),
            constant.restrict(arrays["intercept"]),
            None if C is None else constant.restrict(C),
        ).with_constant(constant)


def negative_subsample(Y: np.ndarray, rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each label's kept cells: every positive, and each negative with probability ``rate``.

    Args:
        Y: (n, L) 0/1 labels.
        rate: the share of each label's negatives to keep, in (0, 1].
        seed: random seed (the same seed keeps the same cells).

    Returns:
        ``(kept, share)``: an (n, L) float32 0/1 mask, and (L,) the share of each label's
        negatives kept (1 for a label without negatives).
    """
    positive = Y.astype(bool)
    kept = positive | (np.random.default_rng(seed).random(Y.shape) < rate)
    negatives = (~positive).sum(axis=0)
    kept_negatives = (kept & ~positive).sum(axis=0)
    # At least one negative counts, so that the correction stays finite.
    share = np.where(negatives > 0, np.maximum(kept_negatives, 1) / np.maximum(negatives, 1), 1.0)
    return kept.astype(np.float32), share


def inner_validation_rows(
    Y: np.ndarray, groups: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    """The inner-validation side of a training fold's original rows.

    One fold of :data:`INNER_SPLITS` from :func:`automoa.folds.make_folds`: multilabel-stratified,
    groups of at most 18 rows kept whole (the drug-aware recipe of the MoA winners).

    Args:
        Y: (n, L) labels of the original (not resampled) training rows.
        groups: (n,) group labels, or ``None`` for one group per row.
        seed: random seed.

    Returns:
        Boolean mask of shape (n,), True on the inner-validation rows.
    """
    groups = np.arange(len(Y)) if groups is None else groups
    return make_folds(Y, INNER_SPLITS, seed, groups=groups) == 0


@register
class LinearFamily(ModelFamily):
    """Per-label logistic regression with an L2 penalty chosen per label.

    Args:
        C: one inverse penalty for every label, as in scikit-learn
            (``C * sum(loss) + ||w||^2 / 2``); no path and no inner split. ``None`` (the
            default) chooses each label's C from the path.
        C_min: the strongest penalty of the path (default 1e-4).
        C_max: the weakest penalty of the path (default 0.1).
        path_size: log-spaced path points from ``C_min`` to ``C_max`` (default 8).
        class_weight: ``"none"`` or ``"balanced"`` (per label, as scikit-learn's ``balanced``).
        negative_rate: the share of each label's negatives it is fitted on, drawn per label;
            1 (the default) fits on every row. The intercepts are corrected for the share.
        max_iter: L-BFGS iterations at most per solve: a safety cap, not a regulariser (every
            solve runs to its gradient tolerance).

    Raises:
        ValueError: on a non-positive C, an empty or reversed path, path parameters given with a
            fixed ``C``, an unknown class weight, a ``negative_rate`` outside (0, 1] or
            ``max_iter < 1``.
    """

    name = "linear"
    fitted_class = FittedLinear

    def __init__(
        self,
        C: float | None = None,
        C_min: float | None = None,
        C_max: float | None = None,
        path_size: int | None = None,
        class_weight: str = "none",
        negative_rate: float = 1.0,
        max_iter: int = 1000,
    ) -> None:
        path_given = {"C_min": C_min, "C_max": C_max, "path_size": path_size}
        path_given = {name: value for name, value in path_given.items() if value is not None}
        if C is not None and path_given:
            raise ValueError(f"a fixed C has no path: drop C or {', '.join(path_given)}")
        if C is not None and C <= 0:
            raise ValueError(f"C must be > 0, got {C}")
        C_min = DEFAULT_C_MIN if C_min is None else float(C_min)
        C_max = DEFAULT_C_MAX if C_max is None else float(C_max)
        path_size = DEFAULT_PATH_SIZE if path_size is None else int(path_size)
        if not 0 < C_min < C_max:
            raise ValueError(f"expected 0 < C_min < C_max, got C_min={C_min}, C_max={C_max}")
        if path_size < 2:
            raise ValueError(f"path_size must be >= 2, got {path_size}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        if class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}, got {class_weight!r}")
        if not 0 < negative_rate <= 1:
            raise ValueError(f"negative_rate must be in (0, 1], got {negative_rate}")
        params = {"C": C} if C is not None else path_given
        if negative_rate < 1:  # only when used, so that earlier trials' parameters stay the same
            params["negative_rate"] = float(negative_rate)
        super().__init__(**params, class_weight=class_weight, max_iter=max_iter)
        self.C = None if C is None else float(C)
        self.path = np.geomspace(C_min, C_max, path_size)
        self.class_weight = class_weight
        self.negative_rate = float(negative_rate)
        self.max_iter = int(max_iter)

    def _fit(self, X: np.ndarray, Y: np.ndarray, ctx: FitContext) -> FittedLinear:
        # ctx.X_val / ctx.Y_val are the outer validation fold: deliberately unused (the penalty
        # is chosen on an inner split of the training rows, so the fold's score stays honest).
        groups, seed, deadline = ctx.groups, ctx.seed, ctx.deadline
        mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = X.std(axis=0, dtype=np.float64).astype(np.float32)
        scale[scale == 0] = 1.0
        # float32 products: twice as fast as float64, and precise enough for log loss.
        Xs = ((X - mean) / scale).astype(np.float32)
        n, d = Xs.shape
        L = Y.shape[1]
        coef = np.zeros((d, L), dtype=np.float32)
        intercept = np.zeros(L, dtype=np.float32)
        chosen = np.full(L, np.nan)

        def check(_: np.ndarray) -> None:
            deadline.check("L-BFGS (linear)")

        if L:  # without a label that varies there is nothing to fit
            # One BLAS thread. Measured on 2 busy cores, one 19k x 875 x 206 fold: 12 s on one
            # thread, 45 s on two (threads wait on each other when the cores are shared); on
            # small data one thread was already 10x faster.
            with threadpool_limits(limits=1, user_api="blas"):
                V = rotation(Xs)
                Xr = Xs @ V
                del Xs
                Xr2 = np.square(Xr)
                targets = Targets.of(Y, self.class_weight)
                offset = np.zeros(L, dtype=np.float32)
                if self.negative_rate < 1:
                    targets.kept, share = negative_subsample(Y, self.negative_rate, seed)
                    offset = np.log(share).astype(np.float32)
                b0 = start_intercepts(Y, targets)
                W0 = np.zeros((d, L), dtype=np.float32)
                original = n if groups is None else len(groups)
                if self.C is not None:
                    C = np.full(L, self.C)
                elif original < INNER_SPLITS:  # no inner split: no evidence, strongest penalty
                    C = np.full(L, self.path[0])
                else:
                    inner = inner_validation_rows(Y[:original], groups, seed)
                    C, W0, b0 = self._choose_penalties(
                        Xr, Xr2, Y, inner, check, W0, b0, targets.kept
                    )
                W, b = solve(
                    Xr,
                    Xr2,
                    targets,
                    1.0 / (C * n),
                    W0,
                    b0,
                    FINAL_TOL,
                    self.max_iter,
                    check,
                )
                coef[:] = V @ W
            intercept[:] = b + offset
            chosen[:] = C
        return FittedLinear(mean, scale, coef, intercept, chosen)

    def _choose_penalties(
        self,
        X: np.ndarray,
        X2: np.ndarray,
        Y: np.ndarray,
        inner_valid: np.ndarray,
        check: Callable[[np.ndarray], None],
        W0: np.ndarray,
        b0: np.ndarray,
        kept: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each label's C from the path, fitted on inner-train and scored on inner-validation.

        Args:
            X: (n, d) rotated features of the whole training fold (original rows first).
            X2: ``X * X``, for the preconditioner.
            Y: (n, L) labels, none constant over the whole fold.
            inner_valid: mask of the original rows (a prefix of ``X``) held out of the path.
            check: the deadline check.
            W0, b0: the cold start, returned for labels the inner split cannot fit.
            kept: the cells each label is fitted on (undersampled negatives), or ``None``.

        Returns:
            The chosen C per label, and coefficients and intercepts to warm-start the final fit.
        """
        train_rows = np.flatnonzero(~inner_valid)  # resampled rows (past the mask) stay out
        valid_rows = np.flatnonzero(inner_valid)
        X_fit, X2_fit, X_val = X[train_rows], X2[train_rows], X[valid_rows]
        Y_fit, Y_val = Y[train_rows], Y[valid_rows]
        n_fit, L = Y_fit.shape
        fit_pos = Y_fit.sum(axis=0)
        # Only labels with positives on both sides can rank the path; the others keep the
        # strongest penalty (index 0): without evidence, shrink most. A label with no
        # inner-validation positive would pick the weakest penalty (confident zeros score
        # best on negatives alone); giving it C_min validated better on MoA-like data.
        fittable = np.flatnonzero((fit_pos > 0) & (fit_pos < n_fit))
        Y_fit, Y_val = Y_fit[:, fittable], Y_val[:, fittable]
        evidence = Y_val.sum(axis=0) > 0
        fit_targets = Targets.of(Y_fit, self.class_weight)
        offset = np.zeros(len(fittable), dtype=np.float32)  # the prior correction, if any
        if kept is not None:
            fit_targets.kept = kept[np.ix_(train_rows, fittable)]
            negatives = (1 - Y_fit).sum(axis=0)
            kept_negatives = (fit_targets.kept * (1 - Y_fit)).sum(axis=0)
            offset = np.log(np.maximum(kept_negatives, 1) / negatives).astype(np.float32)
        val_targets = Targets.of(Y_val)
        losses = np.full((len(self.path), len(fittable)), np.inf)
        W = W0[:, fittable].copy()
        b = start_intercepts(Y_fit, fit_targets)
        W_best, b_best = W0.copy(), b0.copy()
        active = np.arange(len(fittable))
        for k, C in enumerate(self.path):
            W[:, active], b[active] = solve(
                X_fit,
                X2_fit,
                fit_targets.subset(active, len(fittable)),
                np.full(len(active), 1.0 / (C * n_fit)),
                W[:, active],
                b[active],
                PATH_TOL,
                self.max_iter,
                check,
            )
            Z = X_val @ W[:, active]
            Z += b[active] + offset[active]
            losses[k, active] = label_log_loss(Z, val_targets.subset(active, len(fittable)))
            best = np.argmin(losses, axis=0)  # the first, strongest penalty on ties
            best[~evidence] = 0
            improved = active[best[active] == k]
            W_best[:, fittable[improved]] = W[:, improved]
            b_best[fittable[improved]] = b[improved]
            # A label leaves the path once its loss has not improved for PATH_PATIENCE points.
            active = active[(k - best[active] < PATH_PATIENCE) & evidence[active]]
            if not active.size:
                break
        index = np.zeros(L, dtype=int)
        index[fittable] = np.argmin(losses, axis=0) * evidence
        return self.path[index], W_best, b_best
