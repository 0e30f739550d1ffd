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

**One solver for all labels.** The L per-label problems are independent, so they are solved in
one loop (:func:`_solve`): one (n, d) x (d, L) product per evaluation instead of L separate fits,
with each label's own L-BFGS memory, step length and stopping test. Each label's optimum is the
same as fitting it alone; ``tests/models/test_linear.py`` checks this against scikit-learn's
``LogisticRegression``.

**Fast convergence.** Features are standardised with training-fold statistics, then rotated onto
their principal axes (an orthogonal change of basis: same optimum, same L2 penalty). In that basis
each label's Hessian is close to diagonal, so scaling the variables by the roots of its diagonal
(measured at the warm start) leaves L-BFGS a well-conditioned problem: each point is solved in
tens of iterations where the correlated MoA-like features needed hundreds unscaled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit
from threadpoolctl import threadpool_limits

from automoa.exceptions import BudgetExhausted
from automoa.folds import make_folds
from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import register

if TYPE_CHECKING:
    from collections.abc import Callable

    from automoa.search.deadline import Deadline
    from automoa.spaces.config import StepConfig

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
#: L-BFGS memory (steps kept per label) and line-search halvings before a label is declared solved.
_MEMORY = 8
_MAX_BACKTRACKS = 20
#: ``exp`` argument cap (finite in float32); logits never reach it with an L2 penalty on
#: standardised features.
_EXP_CAP = np.float32(80.0)


class FittedLinear(FittedModel):
    """Standardisation followed by per-label logistic regression.

    Labels that were constant in the training fold are predicted with their smoothed prior.

    Attributes:
        C: the inverse penalty each label was fitted with (NaN for constant labels).
    """

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        constant_labels: np.ndarray,
        constant_rates: np.ndarray,
        C: np.ndarray | None = None,
    ) -> None:
        self.mean = mean
        self.scale = scale
        self.coef = coef
        self.intercept = intercept
        self.constant_labels = constant_labels.astype(bool)
        self.constant_rates = constant_rates
        # States saved before per-label penalties have no C.
        self.C = np.full(coef.shape[1], np.nan) if C is None else C

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        P = expit(Z).astype(np.float32)
        P[:, self.constant_labels] = self.constant_rates[self.constant_labels]
        return P

    def state(self) -> ModelState:
        return ModelState(
            "linear",
            {},
            {
                "mean": self.mean,
                "scale": self.scale,
                "coef": self.coef,
                "intercept": self.intercept,
                "constant_labels": self.constant_labels,
                "constant_rates": self.constant_rates,
                "C": self.C,
            },
        )

    @classmethod
    def from_state(cls, state: ModelState) -> FittedLinear:
        return cls(**state.arrays)


@dataclass
class _Targets:
    """Sparse 0/1 targets and per-label class weights of an (n, L) label matrix.

    Attributes:
        flat: flat (row-major) indices of the positive cells.
        cols: the label of each positive cell.
        w_neg: weight of a negative cell per label, or ``None`` for unweighted.
        w_pos: weight of a positive cell per label, or ``None``.
    """

    flat: np.ndarray
    cols: np.ndarray
    w_neg: np.ndarray | None = None
    w_pos: np.ndarray | None = None

    @classmethod
    def of(cls, Y: np.ndarray, class_weight: str = "none") -> _Targets:
        rows, cols = np.nonzero(Y)
        targets = cls(rows * Y.shape[1] + cols, cols)
        if class_weight == "balanced":
            # scikit-learn's ``balanced``: each class of each label gets half the total weight.
            n, pos = Y.shape[0], Y.sum(axis=0).clip(min=1)
            neg = (n - Y.sum(axis=0)).clip(min=1)
            targets.w_neg = (n / (2.0 * neg)).astype(np.float32)
            targets.w_pos = (n / (2.0 * pos)).astype(np.float32)
        return targets

    def subset(self, keep: np.ndarray, n_labels: int) -> _Targets:
        """The targets of the labels ``keep`` (ascending indices) of ``n_labels``."""
        new_col = np.full(n_labels, -1)
        new_col[keep] = np.arange(len(keep))
        mask = new_col[self.cols] >= 0
        cols = new_col[self.cols[mask]]
        flat = self.flat[mask] // n_labels * len(keep) + cols
        if self.w_neg is None:
            return _Targets(flat, cols)
        return _Targets(flat, cols, self.w_neg[keep], self.w_pos[keep])


def _loss_and_residual(Z: np.ndarray, targets: _Targets) -> tuple[np.ndarray, np.ndarray]:
    """Per-label summed (weighted) logistic loss of logits ``Z``, and d loss / d Z.

    One ``exp`` gives both the softplus and the sigmoid (scipy's ``logaddexp`` and ``expit`` took
    five times as long on 17k x 206 cells). Positives are sparse, so they are handled by index.
    """
    E = np.exp(np.minimum(Z, _EXP_CAP))
    softplus = np.log1p(E)
    P = np.divide(E, E + np.float32(1.0), out=E)
    z_pos = Z.ravel()[targets.flat]
    L = Z.shape[1]
    if targets.w_neg is None:
        loss = softplus.sum(axis=0, dtype=np.float64)
        loss -= np.bincount(targets.cols, weights=z_pos, minlength=L)
        P.ravel()[targets.flat] -= np.float32(1.0)
        return loss, P
    w_neg, w_pos = targets.w_neg, targets.w_pos
    s_pos = softplus.ravel()[targets.flat]
    cell = (w_pos - w_neg)[targets.cols] * s_pos - w_pos[targets.cols] * z_pos
    loss = w_neg * softplus.sum(axis=0, dtype=np.float64)
    loss += np.bincount(targets.cols, weights=cell, minlength=L)
    p_pos = P.ravel()[targets.flat]
    P *= w_neg
    P.ravel()[targets.flat] = w_pos[targets.cols] * (p_pos - np.float32(1.0))
    return loss, P


def _log_loss(Z: np.ndarray, targets: _Targets) -> np.ndarray:
    """Per-label mean log loss (the metric, unweighted) of logits ``Z``."""
    return _loss_and_residual(Z, _Targets(targets.flat, targets.cols))[0] / Z.shape[0]


def _solve(
    X: np.ndarray,
    X2: np.ndarray,
    targets: _Targets,
    lam: np.ndarray,
    W0: np.ndarray,
    b0: np.ndarray,
    tol: float,
    max_iter: int,
    check: Callable[[np.ndarray], None],
) -> tuple[np.ndarray, np.ndarray]:
    """Minimise each label's ``mean(loss) + lam ||w||^2 / 2``, all labels in one loop.

    L-BFGS with one memory, one step length and one stopping test per label, vectorised over
    labels: each evaluation is one product over the labels still running, a label stops once
    its scaled gradient is below ``tol`` (rare, strongly penalised labels stop early and stop
    costing), and no label's line search holds up another. scipy's L-BFGS-B on the stacked
    variables spent as long in its own bookkeeping as in the products, and ran every label until
    the slowest converged.

    Args:
        X: (n, d) float32 features, standardised and rotated onto principal axes.
        X2: ``X * X``, for the preconditioner.
        targets: the labels of the rows of ``X``.
        lam: (L,) penalty of each label (scikit-learn's ``1 / (C n)``).
        W0: (d, L) starting coefficients.
        b0: (L,) starting intercepts.
        tol: largest absolute gradient entry, in the preconditioned variables, of a solved label.
        max_iter: iterations at most (a safety cap: the tolerance ends the run).
        check: called every iteration; raises to stop.

    Returns:
        The coefficients (d, L) and intercepts (L,), float32.
    """
    n, d = X.shape
    L = len(lam)
    root_h, root_hb = _preconditioner(X, X2, targets, lam, W0, b0)
    scale = np.vstack([root_h, root_hb[None, :]])  # variables u = scale * [W; b]
    u = np.vstack([W0, b0[None, :]]) * scale
    out = u.copy()

    def evaluate(u: np.ndarray, cols: np.ndarray, sub: _Targets) -> tuple[np.ndarray, np.ndarray]:
        theta = u / scale[:, cols]
        W = np.ascontiguousarray(theta[:d])
        Z = X @ W
        Z += theta[d]
        loss, R = _loss_and_residual(Z, sub)
        grad = np.empty_like(theta)
        np.matmul(X.T, R, out=grad[:d])
        grad[:d] *= np.float32(1.0 / n)
        grad[:d] += lam[cols].astype(np.float32) * W
        grad[d] = R.sum(axis=0, dtype=np.float64) / n
        value = loss / n + 0.5 * lam[cols] * np.square(W, dtype=np.float64).sum(axis=0)
        return value, grad / scale[:, cols]

    cols = np.arange(L)
    sub = targets
    f, g = evaluate(u, cols, sub)
    S = np.zeros((_MEMORY, *u.shape), dtype=np.float32)  # steps
    G = np.zeros_like(S)  # gradient changes
    rho = np.zeros((_MEMORY, L))
    for iteration in range(max_iter + 1):
        check(u)
        done = np.abs(g).max(axis=0) <= tol
        if iteration == max_iter:
            done[:] = True
        if done.any():  # finished labels leave every later product
            out[:, cols[done]] = u[:, done]
            keep = np.flatnonzero(~done)
            if not keep.size:
                break
            sub = sub.subset(keep, len(cols))
            cols, u, g, f = cols[keep], u[:, keep], g[:, keep], f[keep]
            S, G, rho = S[:, :, keep], G[:, :, keep], rho[:, keep]
        direction = _two_loop(g, S, G, rho, iteration)
        slope = np.einsum("ij,ij->j", g, direction, dtype=np.float64)
        step = np.ones(len(cols), dtype=np.float32)
        pending = np.arange(len(cols))
        u_new, f_new, g_new = u.copy(), f.copy(), g.copy()
        for _ in range(_MAX_BACKTRACKS):
            trial = u[:, pending] + step[pending] * direction[:, pending]
            f_try, g_try = evaluate(trial, cols[pending], sub.subset(pending, len(cols)))
            ok = f_try <= f[pending] + 1e-4 * step[pending] * slope[pending]
            u_new[:, pending[ok]], f_new[pending[ok]] = trial[:, ok], f_try[ok]
            g_new[:, pending[ok]] = g_try[:, ok]
            if ok.all():
                break
            # Backtrack by the minimiser of the quadratic through f, slope and f_try.
            failed, excess = pending[~ok], (f_try - f[pending] - step[pending] * slope[pending])
            a = step[failed]
            quad = -slope[failed] * a * a / (2 * excess[~ok])
            step[failed] = np.clip(np.nan_to_num(quad), 0.1 * a, 0.5 * a)
            pending = failed
            check(u)
        else:
            # No decrease within float32 precision: that label is solved as far as it goes.
            g_new[:, pending] = 0.0
        s, y = u_new - u, g_new - g
        sy = np.einsum("ij,ij->j", s, y, dtype=np.float64)
        slot = iteration % _MEMORY
        S[slot], G[slot] = s, y
        rho[slot] = np.where(sy > 1e-12, 1.0 / np.where(sy > 1e-12, sy, 1.0), 0.0)
        u, f, g = u_new, f_new, g_new
    theta = out / scale
    return np.ascontiguousarray(theta[:d]), theta[d].copy()


def _two_loop(
    g: np.ndarray, S: np.ndarray, G: np.ndarray, rho: np.ndarray, iteration: int
) -> np.ndarray:
    """L-BFGS direction per label (column) from the last steps ``S`` and gradient changes ``G``.

    The memory is a ring written at slot ``iteration % len(S)``; an entry with ``rho == 0`` (no
    curvature, or not written yet) does nothing.
    """
    m = len(S)
    order = [(iteration - 1 - i) % m for i in range(min(iteration, m))]  # newest first
    q = g.astype(np.float64)
    alphas = []
    for i in order:
        a = rho[i] * np.einsum("ij,ij->j", S[i], q)
        q -= a * G[i]
        alphas.append(a)
    if order:
        newest = order[0]
        yy = np.einsum("ij,ij->j", G[newest], G[newest], dtype=np.float64)
        gamma = np.where((rho[newest] > 0) & (yy > 0), 1.0 / (rho[newest] * yy + 1e-300), 1.0)
        q *= gamma
    for i, a in zip(reversed(order), reversed(alphas), strict=True):
        beta = rho[i] * np.einsum("ij,ij->j", G[i], q)
        q += S[i] * (a - beta)
    direction = -q.astype(np.float32)
    # Not a descent direction (can happen after a restart of the memory): steepest descent.
    bad = np.einsum("ij,ij->j", g, direction, dtype=np.float64) >= 0
    direction[:, bad] = -g[:, bad]
    return direction


def _preconditioner(
    X: np.ndarray,
    X2: np.ndarray,
    targets: _Targets,
    lam: np.ndarray,
    W: np.ndarray,
    b: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Roots of the Hessian's diagonal at the start point: (d, L) coefficients, (L,) intercepts.

    In the rotated basis the Hessian is nearly diagonal, so scaling each variable by the root of
    its diagonal entry leaves L-BFGS a well-conditioned problem. The diagonal is measured at the
    warm start (one extra product): near the weak end of the path the curvature sits on the few
    rows a label finds hard, which the label's rate alone does not show.
    """
    n = X.shape[0]
    Z = X @ W
    Z += b
    P = np.exp(-np.abs(Z))
    P /= (1.0 + P) ** 2  # p (1 - p), written so that it cannot overflow
    if targets.w_neg is not None:
        p_pos = P.ravel()[targets.flat] * targets.w_pos[targets.cols]
        P *= targets.w_neg
        P.ravel()[targets.flat] = p_pos
    diag = X2.T @ P
    diag *= np.float32(1.0 / n)
    diag += lam.astype(np.float32)
    diag_b = P.sum(axis=0, dtype=np.float64) / n
    return np.sqrt(diag), np.sqrt(np.maximum(diag_b, 1e-8)).astype(np.float32)


def _rotation(Xs: np.ndarray) -> np.ndarray:
    """Principal axes ``V`` (d, d) of standardised features."""
    _, V = np.linalg.eigh((Xs.T @ Xs).astype(np.float64))
    return V.astype(np.float32)


def _start_intercepts(Y: np.ndarray, targets: _Targets) -> np.ndarray:
    """The log-odds of each label's (weighted, smoothed) rate: fewer iterations for rare labels."""
    pos = Y.sum(axis=0).astype(np.float64)
    pos, neg = pos + 1.0, Y.shape[0] - pos + 1.0
    if targets.w_neg is not None:
        pos, neg = pos * targets.w_pos, neg * targets.w_neg
    return np.log(pos / neg).astype(np.float32)


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
        max_iter: L-BFGS iterations at most per solve: a safety cap, not a regulariser (every
            solve runs to its gradient tolerance).

    Raises:
        ValueError: on a non-positive C, an empty or reversed path, path parameters given with a
            fixed ``C``, an unknown class weight or ``max_iter < 1``.
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
        params = {"C": C} if C is not None else path_given
        super().__init__(**params, class_weight=class_weight, max_iter=max_iter)
        self.C = None if C is None else float(C)
        self.path = np.geomspace(C_min, C_max, path_size)
        self.class_weight = class_weight
        self.max_iter = int(max_iter)

    def fit(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        *,
        X_valid: np.ndarray | None = None,
        Y_valid: np.ndarray | None = None,
        deadline: Deadline | None = None,
        seed: int = 0,
        device: str = "cpu",
        loss: StepConfig | None = None,
        Y_aux: np.ndarray | None = None,
        groups: np.ndarray | None = None,
    ) -> FittedLinear:
        # X_valid / Y_valid are the outer validation fold: deliberately unused (the penalty is
        # chosen on an inner split of the training rows, so the fold's score stays honest).
        if groups is not None and len(groups) > len(X):
            raise ValueError(f"groups: {len(groups)} labels for {len(X)} training rows")
        mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = X.std(axis=0, dtype=np.float64).astype(np.float32)
        scale[scale == 0] = 1.0
        # float32 products: twice as fast as float64, and precise enough for log loss.
        Xs = ((X - mean) / scale).astype(np.float32)
        n, d = Xs.shape
        positives = Y.sum(axis=0)
        constant = (positives == 0) | (positives == n)
        rates = prior_probabilities(Y).astype(np.float32)
        fit_labels = np.flatnonzero(~constant)
        coef = np.zeros((d, Y.shape[1]), dtype=np.float32)
        intercept = np.zeros(Y.shape[1], dtype=np.float32)
        chosen = np.full(Y.shape[1], np.nan)

        def check(_: np.ndarray) -> None:
            if deadline is not None and deadline.expired():
                raise BudgetExhausted("linear: the deadline passed during L-BFGS")

        if fit_labels.size:
            # One BLAS thread. Measured on 2 busy cores, one 19k x 875 x 206 fold: 12 s on one
            # thread, 45 s on two (threads wait on each other when the cores are shared); on
            # small data one thread was already 10x faster.
            with threadpool_limits(limits=1, user_api="blas"):
                V = _rotation(Xs)
                Xr = Xs @ V
                del Xs
                Xr2 = np.square(Xr)
                Yf = Y[:, fit_labels]
                targets = _Targets.of(Yf, self.class_weight)
                b0 = _start_intercepts(Yf, targets)
                W0 = np.zeros((d, len(fit_labels)), dtype=np.float32)
                original = n if groups is None else len(groups)
                if self.C is not None:
                    C = np.full(len(fit_labels), self.C)
                elif original < INNER_SPLITS:  # no inner split: no evidence, strongest penalty
                    C = np.full(len(fit_labels), self.path[0])
                else:
                    inner = inner_validation_rows(Yf[:original], groups, seed)
                    C, W0, b0 = self._choose_penalties(Xr, Xr2, Yf, inner, check, W0, b0)
                W, b = _solve(
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
                coef[:, fit_labels] = V @ W
            intercept[fit_labels] = b
            chosen[fit_labels] = C
        return FittedLinear(mean, scale, coef, intercept, constant, rates, chosen)

    def _choose_penalties(
        self,
        X: np.ndarray,
        X2: np.ndarray,
        Y: np.ndarray,
        inner_valid: np.ndarray,
        check: Callable[[np.ndarray], None],
        W0: np.ndarray,
        b0: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each label's C from the path, fitted on inner-train and scored on inner-validation.

        Args:
            X: (n, d) rotated features of the whole training fold (original rows first).
            X2: ``X * X``, for the preconditioner.
            Y: (n, L) labels, none constant over the whole fold.
            inner_valid: mask of the original rows (a prefix of ``X``) held out of the path.
            check: the deadline check.
            W0, b0: the cold start, returned for labels the inner split cannot fit.

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
        fit_targets = _Targets.of(Y_fit, self.class_weight)
        val_targets = _Targets.of(Y_val)
        losses = np.full((len(self.path), len(fittable)), np.inf)
        W = W0[:, fittable].copy()
        b = _start_intercepts(Y_fit, fit_targets)
        W_best, b_best = W0.copy(), b0.copy()
        active = np.arange(len(fittable))
        for k, C in enumerate(self.path):
            W[:, active], b[active] = _solve(
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
            Z += b[active]
            losses[k, active] = _log_loss(Z, val_targets.subset(active, len(fittable)))
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
