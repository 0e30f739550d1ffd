"""Multi-label L2 logistic regression: one independent problem per label, solved jointly.

Each label ``j`` has its own problem, ``mean(loss_j) + lam_j ||w_j||^2 / 2`` over its
coefficients and intercept (log loss, optionally with scikit-learn's ``balanced`` class weights,
and optionally over a subsample of each label's negatives).
The problems share nothing but the features, so :func:`solve` runs them in one loop: one
(n, d) x (d, L) product per evaluation instead of L separate fits. The optimiser is L-BFGS
vectorised over labels, with each label's own memory, step length (Armijo backtracking) and
stopping test: a label leaves every later product once its gradient is below the tolerance, and
no label's line search holds up another. Each label's optimum is the same as fitting it alone.

Convergence comes from the basis. Callers standardise the features and rotate them onto their
principal axes (:func:`rotation`: an orthogonal change of basis, so the same optimum and the same
L2 penalty). In that basis each label's Hessian is close to diagonal, so :func:`solve` scales the
variables by the roots of that diagonal, measured at the warm start (a diagonal preconditioner),
and L-BFGS is left a well-conditioned problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable

#: L-BFGS memory (steps kept per label) and line-search halvings before a label is declared solved.
_MEMORY = 8
_MAX_BACKTRACKS = 20
#: ``exp`` argument cap (finite in float32); logits never reach it with an L2 penalty on
#: standardised features.
_EXP_CAP = np.float32(80.0)


@dataclass
class Targets:
    """Sparse 0/1 targets and per-label class weights of an (n, L) label matrix.

    Attributes:
        flat: flat (row-major) indices of the positive cells.
        cols: the label of each positive cell.
        w_neg: weight of a negative cell per label, or ``None`` for unweighted.
        w_pos: weight of a positive cell per label, or ``None``.
        kept: (n, L) float32 0/1 mask of the cells each label is fitted on (every positive
            cell is 1), or ``None`` for all cells: per-label undersampling of negatives.
    """

    flat: np.ndarray
    cols: np.ndarray
    w_neg: np.ndarray | None = None
    w_pos: np.ndarray | None = None
    kept: np.ndarray | None = None

    @classmethod
    def of(cls, Y: np.ndarray, class_weight: str = "none") -> Targets:
        """The targets of a 0/1 label matrix.

        Args:
            Y: (n, L) 0/1 labels.
            class_weight: ``"none"`` or ``"balanced"`` (scikit-learn's, per label).

        Returns:
            The positives of ``Y`` by flat index, with the class weights when balanced.
        """
        rows, cols = np.nonzero(Y)
        targets = cls(rows * Y.shape[1] + cols, cols)
        if class_weight == "balanced":
            # scikit-learn's ``balanced``: each class of each label gets half the total weight.
            n, pos = Y.shape[0], Y.sum(axis=0).clip(min=1)
            neg = (n - Y.sum(axis=0)).clip(min=1)
            targets.w_neg = (n / (2.0 * neg)).astype(np.float32)
            targets.w_pos = (n / (2.0 * pos)).astype(np.float32)
        return targets

    def subset(self, keep: np.ndarray, n_labels: int) -> Targets:
        """The targets of some of the labels, renumbered from 0 in the order of ``keep``.

        Args:
            keep: ascending indices of the labels to keep.
            n_labels: the number of labels these targets have.

        Returns:
            The targets of the kept labels, with their class weights.
        """
        new_col = np.full(n_labels, -1)
        new_col[keep] = np.arange(len(keep))
        mask = new_col[self.cols] >= 0
        cols = new_col[self.cols[mask]]
        flat = self.flat[mask] // n_labels * len(keep) + cols
        kept = None if self.kept is None else self.kept[:, keep]
        if self.w_neg is None:
            return Targets(flat, cols, kept=kept)
        return Targets(flat, cols, self.w_neg[keep], self.w_pos[keep], kept)


def _loss_and_residual(Z: np.ndarray, targets: Targets) -> tuple[np.ndarray, np.ndarray]:
    """Per-label summed (weighted) logistic loss of logits ``Z``, and d loss / d Z.

    One ``exp`` gives both the softplus and the sigmoid (scipy's ``logaddexp`` and ``expit`` took
    five times as long on 17k x 206 cells). Positives are sparse, so they are handled by index.
    """
    E = np.exp(np.minimum(Z, _EXP_CAP))
    softplus = np.log1p(E)
    P = np.divide(E, E + np.float32(1.0), out=E)
    if targets.kept is not None:  # a negative cell left out adds neither loss nor gradient
        softplus *= targets.kept
        P *= targets.kept
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


def label_log_loss(Z: np.ndarray, targets: Targets) -> np.ndarray:
    """Per-label mean log loss (the metric: unweighted) of logits.

    Args:
        Z: (n, L) float32 logits.
        targets: the labels of the rows of ``Z``; their class weights are ignored.

    Returns:
        (L,) float64 mean log loss of each label.
    """
    return _loss_and_residual(Z, Targets(targets.flat, targets.cols))[0] / Z.shape[0]  # all cells


def solve(
    X: np.ndarray,
    X2: np.ndarray,
    targets: Targets,
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

    def evaluate(u: np.ndarray, cols: np.ndarray, sub: Targets) -> tuple[np.ndarray, np.ndarray]:
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
    targets: Targets,
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
    if targets.kept is not None:
        P *= targets.kept
    if targets.w_neg is not None:
        p_pos = P.ravel()[targets.flat] * targets.w_pos[targets.cols]
        P *= targets.w_neg
        P.ravel()[targets.flat] = p_pos
    diag = X2.T @ P
    diag *= np.float32(1.0 / n)
    diag += lam.astype(np.float32)
    diag_b = P.sum(axis=0, dtype=np.float64) / n
    return np.sqrt(diag), np.sqrt(np.maximum(diag_b, 1e-8)).astype(np.float32)


def rotation(Xs: np.ndarray) -> np.ndarray:
    """The principal axes of standardised features.

    Rotating the features onto them (``Xs @ V``) is an orthogonal change of basis: each label's
    optimum and L2 penalty are unchanged, and its Hessian becomes close to diagonal, which is what
    the diagonal preconditioner of :func:`solve` needs.

    Args:
        Xs: (n, d) float32 standardised features.

    Returns:
        (d, d) float32 orthogonal matrix ``V`` whose columns are the principal axes.
    """
    _, V = np.linalg.eigh((Xs.T @ Xs).astype(np.float64))
    return V.astype(np.float32)


def start_intercepts(Y: np.ndarray, targets: Targets) -> np.ndarray:
    """Starting intercepts: the log-odds of each label's (weighted, smoothed) rate.

    Starting from them rather than 0 saves iterations on rare labels.

    Args:
        Y: (n, L) 0/1 labels.
        targets: the targets of ``Y`` (for their class weights).

    Returns:
        (L,) float32 intercepts.
    """
    pos = Y.sum(axis=0).astype(np.float64)
    cells = Y.shape[0] if targets.kept is None else targets.kept.sum(axis=0, dtype=np.float64)
    pos, neg = pos + 1.0, cells - pos + 1.0
    if targets.w_neg is not None:
        pos, neg = pos * targets.w_pos, neg * targets.w_neg
    return np.log(pos / neg).astype(np.float32)
