"""Greedy ensemble selection on out-of-fold predictions (Caruana et al. 2004).

Forward selection with replacement on the true metric (:mod:`automoa.metrics`): start from an
empty ensemble (or the ``init_best`` best single candidates), repeatedly add the candidate whose
addition gives the lowest mean column-wise log loss of the running average, and keep the
ensemble at the best point of that trajectory. Optionally bagged over random candidate subsets.

Candidates are (n, L) probability matrices aligned row for row (every trial uses the same
folds). They are read one at a time, row chunk by row chunk: a sequence of numpy memmaps or of
zero-argument loaders works, and the only (n, L) arrays held are the running sum of the current
ensemble (float64, plus a float32 copy), so 300 candidates of 24k x 206 never sit in memory.

Fast evaluation. For a running sum S of k members and a candidate C, the blend is
p = (S + C) / (k + 1). A negative label scores log1p(-p), computed in float32 on a chunk that
fits in cache (add, scale, log1p, sum: four passes, no (n, L) temporary). Positive labels are
rare (about 0.3% on MoA), so their terms are gathered and computed in float64 with the metric's
clipping. Rows outside the evaluation set (another fold) and known-negative rows are zeroed in
the chunk; known-negative rows add the metric's constant for a 0 prediction. The fast score
agrees with :func:`automoa.metrics.mean_columnwise_log_loss` to about 1e-7 relative; the
reported :attr:`Ensemble.score` is the metric itself, computed on the blend.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from automoa.ensemble.checks import (
    Candidates,
    check_integer,
    check_labels,
    check_mask,
    check_probabilities,
    fetch_candidate,
)
from automoa.exceptions import ConfigError, DataError
from automoa.folds import check_fold_labels
from automoa.metrics import EPS, columnwise_log_loss

#: Elements per evaluation chunk (512 KiB of float32): small enough to stay in L2 cache.
CHUNK_ELEMENTS = 1 << 17

# log(1 - p) of a negative at the metric's upper clip, and the loss of a 0 prediction on a
# negative (known-negative rows): both as the metric computes them in float64.
_LOG_MISS = float(np.log1p(-(1.0 - EPS)))
_ZERO_PRED_LOSS = float(-np.log1p(-EPS))

_SELECT_OPTIONS = frozenset(
    {
        "max_iterations",
        "init_best",
        "bagging_rounds",
        "bagging_fraction",
        "seed",
        "known_negative",
        "n_jobs",
        "shortlist",
        "patience",
    }
)
#: Screening scores every candidate on one row chunk in this many (and on every positive).
SCREEN_STRIDE = 8
#: Greedy selection stops after this many steps without a new best score (the default).
PATIENCE = 10


@dataclass(frozen=True)
class Ensemble:
    """A weighted average of candidates chosen by greedy selection.

    Attributes:
        members: candidate indices with nonzero weight, ascending.
        weights: weight of each member, summing to 1.
        score: the metric of the blend on the rows selection used (hill-climbing score).
        trajectory: fast-evaluated score after each iteration, up to ``max_iterations`` or
            until ``patience`` iterations (:data:`PATIENCE` by default) brought no new best
            (for bagged selection, the element-wise mean of the rounds' trajectories, each
            padded with its last value).
    """

    members: tuple[int, ...]
    weights: tuple[float, ...]
    score: float
    trajectory: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.members or len(self.members) != len(self.weights):
            raise ConfigError(
                f"ensemble: expected as many weights as members (at least one), got "
                f"{len(self.members)} members and {len(self.weights)} weights"
            )

    def blend(
        self, oofs_or_preds: Candidates, known_negative: np.ndarray | None = None
    ) -> np.ndarray:
        """Weighted average of the member arrays.

        Args:
            oofs_or_preds: the full candidate sequence (or a mapping holding at least the
                members), e.g. OOF matrices or test predictions, indexed like at selection.
            known_negative: optional (n,) boolean mask of rows predicted 0.

        Returns:
            float32 (n, L) blend.

        Raises:
            DataError: if a member is missing or the members' shapes differ.
        """
        return _blend(oofs_or_preds, self.members, self.weights, known_negative)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, restored by :meth:`from_dict`."""
        return {
            "members": list(self.members),
            "weights": list(self.weights),
            "score": self.score,
            "trajectory": list(self.trajectory),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ensemble:
        """Rebuild an ensemble from :meth:`to_dict` output.

        Raises:
            ConfigError: if a key is missing or malformed.
        """
        missing = [k for k in ("members", "weights", "score", "trajectory") if k not in data]
        if missing:
            raise ConfigError(f"ensemble: missing key(s) {', '.join(missing)}")
        try:
            return cls(
                members=tuple(int(m) for m in data["members"]),
                weights=tuple(float(w) for w in data["weights"]),
                score=float(data["score"]),
                trajectory=tuple(float(t) for t in data["trajectory"]),
            )
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"ensemble: malformed value ({exc})") from None


@dataclass(frozen=True, eq=False)
class HonestResult:
    """Out-of-fold estimate of ensemble selection.

    Attributes:
        score: the metric of the assembled out-of-fold blend over all rows.
        folds: the fold labels, ascending.
        fold_scores: the metric of each fold's blend on that fold's rows.
        ensembles: the ensemble selected without each fold's rows.
        oof: float32 (n, L) assembled blend: each fold's rows blended by the ensemble selected
            without them (the input of later honest stages such as stacking or clipping).
    """

    score: float
    folds: tuple[int, ...]
    fold_scores: tuple[float, ...]
    ensembles: tuple[Ensemble, ...]
    oof: np.ndarray


def select(
    oofs: Candidates,
    Y: np.ndarray,
    *,
    max_iterations: int = 50,
    init_best: int = 0,
    bagging_rounds: int = 0,
    bagging_fraction: float = 0.5,
    seed: int = 0,
    known_negative: np.ndarray | None = None,
    n_jobs: int = 1,
    shortlist: int = 16,
    rows: np.ndarray | None = None,
    patience: int = PATIENCE,
) -> Ensemble:
    """Greedy forward selection with replacement, truncated at the best iteration.

    Args:
        oofs: candidate (n, L) probability matrices aligned row for row; items may be arrays,
            memmaps or zero-argument loaders, fetched when needed (never all held at once).
        Y: (n, L) 0/1 labels.
        max_iterations: additions to try (initial members included); the trajectory length.
        init_best: start from this many best single candidates, added best first; the kept
            ensemble always contains them.
        bagging_rounds: if positive, run selection this many times on random candidate
            subsets and average the rounds' weight vectors.
        bagging_fraction: fraction of the candidates in each bagging subset.
        seed: seed of the bagging subsets (plain selection is deterministic).
        known_negative: optional (n,) boolean mask of rows whose labels are all 0; they are
            predicted 0 and count in the metric as such.
        n_jobs: threads evaluating candidates (numpy releases the GIL); loaders must be
            thread-safe when above 1.
        shortlist: with more candidates than this, each iteration first screens every
            candidate (its loss on all positives exactly, on the negatives of one row chunk in
            eight, scaled up), then scores this many best-screened candidates exactly and adds
            the best of those (exact ties still go to current members). About 4x faster on 300
            candidates; 0 scores every candidate exactly.
        rows: optional (n,) boolean mask of the rows to select on (e.g. all folds but one);
            ``None`` selects on every row. :attr:`Ensemble.score` is the metric on these rows.
        patience: stop after this many steps without a new best score (the kept ensemble is
            the trajectory's first minimum, so later steps only cost time unless they find a
            new one).

    Returns:
        The selected :class:`Ensemble`.

    Raises:
        DataError: no candidates, a shape differing from Y's, NaN or values outside [0, 1],
            labels other than 0/1, or a known-negative row with a positive label.
        ConfigError: an option out of range.
    """
    Yb, kn = _check_inputs(oofs, Y, known_negative)
    options = _check_options(
        len(oofs),
        max_iterations,
        init_best,
        bagging_rounds,
        bagging_fraction,
        n_jobs,
        shortlist,
        patience,
    )
    if rows is None:
        rows = np.ones(Yb.shape[0], dtype=bool)
    else:
        rows = check_mask("rows", rows, Yb.shape[0])
    return _select(oofs, Yb, rows, kn, seed=seed, **options)


def honest_score(
    oofs: Candidates, Y: np.ndarray, fold_of: np.ndarray, **select_kwargs: Any
) -> float:
    """Out-of-fold score of ensemble selection, an estimate not fitted on the rows it scores.

    Each fold's rows are blended by an ensemble selected on the other folds' rows; see
    :func:`honest_evaluation` for the arguments and the per-fold details.

    Returns:
        The metric of the assembled out-of-fold blend over all rows.
    """
    return honest_evaluation(oofs, Y, fold_of, **select_kwargs).score


def honest_evaluation(
    oofs: Candidates, Y: np.ndarray, fold_of: np.ndarray, **select_kwargs: Any
) -> HonestResult:
    """Per-fold details of :func:`honest_score`.

    Args:
        oofs: candidates, as for :func:`select`.
        Y: (n, L) 0/1 labels.
        fold_of: (n,) integer fold of each row (e.g. the study's folds), at least 2 folds.
        **select_kwargs: options of :func:`select` (``known_negative`` included).

    Returns:
        A :class:`HonestResult`.

    Raises:
        DataError: as :func:`select`, or ``fold_of`` not of shape (n,).
        ConfigError: an unknown or out-of-range option, or fewer than 2 folds.
    """
    unknown = sorted(set(select_kwargs) - _SELECT_OPTIONS)
    if unknown:
        raise ConfigError(f"honest_score: unknown option(s) {', '.join(unknown)}")
    kwargs = dict(select_kwargs)
    Yb, kn = _check_inputs(oofs, Y, kwargs.pop("known_negative", None))
    seed = kwargs.pop("seed", 0)
    options = _check_options(len(oofs), **kwargs)
    fold_of, folds = check_fold_labels(fold_of, Yb.shape[0])
    assembled = np.empty(Yb.shape, dtype=np.float32)
    ensembles, fold_scores = [], []
    for fold in folds:
        in_fold = fold_of == fold
        ens = _select(oofs, Yb, ~in_fold, kn, seed=seed, **options)
        blended = ens.blend(oofs, known_negative=kn)
        assembled[in_fold] = blended[in_fold]
        ensembles.append(ens)
        fold_scores.append(_metric(Yb, blended, in_fold))
    return HonestResult(
        score=_metric(Yb, assembled, np.ones(Yb.shape[0], dtype=bool)),
        folds=folds,
        fold_scores=tuple(fold_scores),
        ensembles=tuple(ensembles),
        oof=assembled,
    )


# --- validation -----------------------------------------------------------------------------


def _check_inputs(
    oofs: Candidates, Y: np.ndarray, known_negative: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels, mask and every candidate; return (Y as bool, known-negative mask)."""
    Yb, kn = check_labels(Y, known_negative)
    if len(oofs) == 0:
        raise DataError("ensemble selection: no candidates given")
    for i in range(len(oofs)):
        check_probabilities(f"candidate {i}", fetch_candidate(oofs, i), Yb.shape)
    return Yb, kn


def _check_options(
    n_candidates: int,
    max_iterations: int = 50,
    init_best: int = 0,
    bagging_rounds: int = 0,
    bagging_fraction: float = 0.5,
    n_jobs: int = 1,
    shortlist: int = 16,
    patience: int = PATIENCE,
) -> dict[str, Any]:
    """Validate selection options; return them as keyword arguments of :func:`_select`."""

    max_iterations = check_integer("max_iterations", max_iterations, 1)
    init_best = check_integer("init_best", init_best, 0)
    if init_best > min(max_iterations, n_candidates):
        raise ConfigError(
            f"init_best: expected at most max_iterations ({max_iterations}) and the number of "
            f"candidates ({n_candidates}), got {init_best}"
        )
    bagging_rounds = check_integer("bagging_rounds", bagging_rounds, 0)
    if not 0.0 < float(bagging_fraction) <= 1.0:
        raise ConfigError(f"bagging_fraction: expected a value in (0, 1], got {bagging_fraction}")
    return {
        "max_iterations": max_iterations,
        "init_best": init_best,
        "bagging_rounds": bagging_rounds,
        "bagging_fraction": float(bagging_fraction),
        "n_jobs": check_integer("n_jobs", n_jobs, 1),
        "shortlist": check_integer("shortlist", shortlist, 0),
        "patience": check_integer("patience", patience, 1),
    }


# --- selection ------------------------------------------------------------------------------


def _select(
    oofs: Candidates,
    Yb: np.ndarray,
    rows: np.ndarray,
    kn: np.ndarray,
    *,
    max_iterations: int,
    init_best: int,
    bagging_rounds: int,
    bagging_fraction: float,
    seed: int,
    n_jobs: int,
    shortlist: int,
    patience: int,
) -> Ensemble:
    """Selection on the rows in the mask ``rows`` (validated inputs)."""
    m = len(oofs)
    problem = _Problem(Yb, rows, kn)
    pool = ThreadPoolExecutor(n_jobs) if n_jobs > 1 else nullcontext()
    with pool as executor:
        if bagging_rounds == 0:
            counts, trajectory = _greedy(
                oofs,
                problem,
                np.arange(m),
                max_iterations,
                init_best,
                executor,
                shortlist,
                patience,
            )
            total = sum(counts.values())
            weight = {i: c / total for i, c in counts.items()}
        else:
            rng = np.random.default_rng(seed)
            size = max(1, round(bagging_fraction * m))
            weight_sum = np.zeros(m)
            trajectories = np.zeros(max_iterations)
            for _ in range(bagging_rounds):
                subset = np.sort(rng.choice(m, size=size, replace=False))
                counts, traj = _greedy(
                    oofs,
                    problem,
                    subset,
                    max_iterations,
                    min(init_best, size),
                    executor,
                    shortlist,
                    patience,
                )
                total = sum(counts.values())
                for i, c in counts.items():
                    weight_sum[i] += c / total
                # An early-stopped run stays at its last value for the remaining steps.
                trajectories += np.pad(traj, (0, max_iterations - len(traj)), mode="edge")
            trajectory = list(trajectories / bagging_rounds)
            weight = {int(i): float(weight_sum[i]) for i in np.flatnonzero(weight_sum)}
    members = tuple(sorted(weight))
    norm = sum(weight[i] for i in members)
    weights = tuple(weight[i] / norm for i in members)
    blended = _blend(oofs, members, weights, kn)
    return Ensemble(
        members=members,
        weights=weights,
        score=_metric(Yb, blended, rows),
        trajectory=tuple(float(t) for t in trajectory),
    )


def _greedy(
    oofs: Candidates,
    problem: _Problem,
    subset: np.ndarray,
    max_iterations: int,
    init_best: int,
    executor: Executor | None,
    shortlist: int = 0,
    patience: int = PATIENCE,
) -> tuple[dict[int, int], list[float]]:
    """One greedy run over the candidates in ``subset``; returns (kept counts, trajectory)."""
    state = _Running(problem)
    picks: list[int] = []
    trajectory: list[float] = []
    counts: dict[int, int] = {}

    def add(i: int, score: float) -> None:
        state.add(fetch_candidate(oofs, i), i)
        picks.append(i)
        trajectory.append(score)
        counts[i] = counts.get(i, 0) + 1

    if init_best:
        singles = state.score_all(oofs, subset, executor)
        # Stable sort: equal scores keep the lower index first.
        order = subset[np.argsort(singles, kind="stable")[:init_best]]
        for j, i in enumerate(order):
            add(int(i), float(singles[subset == i][0]) if j == 0 else state.score(oofs, i))
    while len(picks) < max_iterations:
        pool = subset
        if 0 < shortlist < len(subset):
            screened = state.score_all(oofs, subset, executor, screen=True)
            pool = np.sort(subset[np.argsort(screened, kind="stable")[:shortlist]])
        scores = state.score_all(oofs, pool, executor)
        add(_pick(scores, pool, counts), float(scores.min()))
        # The kept ensemble is the trajectory's first minimum: once no step has improved on it
        # for ``patience`` steps, later ones rarely do, and each costs a pass per candidate.
        if len(trajectory) > init_best + patience and min(trajectory[-patience:]) >= min(
            trajectory[:-patience]
        ):
            break
    # Keep the first minimum at or after the initial ensemble: the smallest best ensemble.
    start = max(init_best, 1) - 1
    best = start + int(np.argmin(trajectory[start:]))
    kept: dict[int, int] = {}
    for i in picks[: best + 1]:
        kept[i] = kept.get(i, 0) + 1
    return kept, trajectory


def _pick(scores: np.ndarray, subset: np.ndarray, counts: Mapping[int, int]) -> int:
    """The best candidate; exact ties go to a current member, then to the lowest index."""
    tied = subset[scores == scores.min()]
    chosen = [int(i) for i in tied if counts.get(int(i), 0) > 0]
    return min(chosen) if chosen else int(tied.min())


class _Problem:
    """Row chunks of the evaluation set with their left-out rows and positive labels."""

    def __init__(self, Yb: np.ndarray, rows: np.ndarray, kn: np.ndarray) -> None:
        n, n_labels = Yb.shape
        scored = rows & ~kn
        self.shape = Yb.shape
        self.rows_per_chunk = max(1, CHUNK_ELEMENTS // n_labels)
        n_eval = int(rows.sum())
        if n_eval == 0:
            raise DataError("ensemble selection: no rows to select on")
        # Known-negative rows are predicted 0: a constant loss, added without evaluation.
        self.constant = int((rows & kn).sum()) * n_labels * _ZERO_PRED_LOSS
        self.denominator = n_eval * n_labels
        self.chunks: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        negatives = []
        for start in range(0, n, self.rows_per_chunk):
            stop = min(n, start + self.rows_per_chunk)
            keep = scored[start:stop]
            if keep.any():
                left_out = np.flatnonzero(~keep)
                positives = np.flatnonzero((Yb[start:stop] & keep[:, None]).ravel())
                self.chunks.append((start, stop, left_out, positives))
                negatives.append(int(keep.sum()) * n_labels - positives.size)
        # Screening scores the negatives of one chunk in SCREEN_STRIDE and scales their sum up
        # by the share of negatives those chunks hold (with few chunks, not by the stride: on
        # scene, one chunk scaled by 8 outweighed the positives and misled the shortlist).
        sampled = sum(negatives[::SCREEN_STRIDE])
        self.screen_scale = sum(negatives) / sampled if sampled else 1.0
        # Every scored positive as (rows, labels) indices of the (n, L) matrix, for one gather
        # per candidate instead of one per chunk (positives are ~0.3% of the cells on MoA).
        self.positives = np.nonzero(Yb & scored[:, None])


class _Running:
    """The running sum of the current ensemble and the fast scoring of one more member."""

    def __init__(self, problem: _Problem) -> None:
        self.problem = problem
        self.k = 0
        self.sum64 = np.zeros(problem.shape)
        self.sum32 = np.zeros(problem.shape, dtype=np.float32)
        self.sum_at_positives = np.zeros(len(problem.positives[0]))
        # Each candidate's values at the scored positives, gathered once: a gather of scattered
        # cells costs about a tenth of a pass, and every iteration would repeat it.
        self.candidate_at_positives: dict[int, np.ndarray] = {}

    def add(self, c: np.ndarray, i: int) -> None:
        """Add member ``i`` (chunk by chunk, so no float64 copy of it is made)."""
        step = self.problem.rows_per_chunk
        for start in range(0, self.sum64.shape[0], step):
            part = self.sum64[start : start + step]
            np.add(part, c[start : start + step], out=part)
            self.sum32[start : start + step] = part
        self.sum_at_positives = self.sum_at_positives + self._at_positives(c, i)
        self.k += 1

    def _at_positives(self, c: np.ndarray, i: int) -> np.ndarray:
        at_positives = self.candidate_at_positives.get(i)
        if at_positives is None:
            at_positives = self.candidate_at_positives[i] = c[self.problem.positives]
        return at_positives

    def score_all(
        self,
        oofs: Candidates,
        subset: np.ndarray,
        executor: Executor | None,
        screen: bool = False,
    ) -> np.ndarray:
        """Fast score (or, with ``screen``, screening estimate) of adding each candidate."""
        if executor is None:
            return np.array([self.score(oofs, int(i), screen) for i in subset])
        return np.array(list(executor.map(lambda i: self.score(oofs, int(i), screen), subset)))

    def score(self, oofs: Candidates, i: int, screen: bool = False) -> float:
        """Metric of the average of the current members and candidate ``i``.

        With ``screen``, the negatives' part is taken from one row chunk in
        :data:`SCREEN_STRIDE` and scaled up (positives are always all scored).
        """
        c = fetch_candidate(oofs, i)
        p = self.problem
        inv = 1.0 / (self.k + 1)
        # log1p(-1) = -inf and NaN (p above 1 by rounding) are caught by the isfinite check.
        with np.errstate(divide="ignore", invalid="ignore"):
            total = self._sum_terms(c, i, inv, screen)
        return (p.constant - total) / p.denominator

    def _sum_terms(self, c: np.ndarray, i: int, inv: float, screen: bool = False) -> float:
        """Sum over scored elements of the log-probability given to the true label (with
        ``screen``, the negatives' part estimated from one chunk in :data:`SCREEN_STRIDE`)."""
        p = self.problem
        buf = np.empty((p.rows_per_chunk, p.shape[1]), dtype=np.float32)
        total = 0.0
        stride, scale = (SCREEN_STRIDE, p.screen_scale) if screen else (1, 1.0)
        for chunk_info in p.chunks[::stride]:
            start, stop = chunk_info[:2]
            chunk = c[start:stop]
            view = buf[: stop - start]
            part = self._negative_terms(view, chunk, chunk_info, inv, clip=False)
            if not math.isfinite(part):
                # Some blend reached p >= 1 on a negative: redo the chunk with the clip.
                part = self._negative_terms(view, chunk, chunk_info, inv, clip=True)
            total += scale * part
        if self.sum_at_positives.size:
            blend = (self.sum_at_positives + self._at_positives(c, i)) * inv
            total += float(np.log(np.clip(blend, EPS, 1.0 - EPS)).sum())
        return total

    def _negative_terms(
        self,
        buf: np.ndarray,
        chunk: np.ndarray,
        chunk_info: tuple[int, int, np.ndarray, np.ndarray],
        inv: float,
        clip: bool,
    ) -> float:
        """Sum of log(1 - p) over the chunk's scored negatives, computed in float32 in ``buf``."""
        start, stop, left_out, pos = chunk_info
        np.add(self.sum32[start:stop], chunk, out=buf)
        np.multiply(buf, np.float32(-inv), out=buf)
        np.log1p(buf, out=buf)
        if clip:
            # fmax also turns the NaN of p slightly above 1 (rounding) into the clipped value.
            np.fmax(buf, np.float32(_LOG_MISS), out=buf)
        # Positives are scored apart (float64); left-out rows are another fold or known-negative.
        if left_out.size:
            buf[left_out] = 0.0
        if pos.size:
            buf.reshape(-1)[pos] = 0.0
        # float32 pairwise summation of a cache-resident chunk: ~1e-7 relative, twice as fast
        # as accumulating in float64; chunk sums are added in float64.
        return float(buf.sum())


# --- blending and the exact metric ----------------------------------------------------------


def _row_blocks(n: int, n_labels: int) -> Iterator[slice]:
    step = max(1, CHUNK_ELEMENTS // n_labels)
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def _blend(
    oofs: Candidates,
    members: Sequence[int],
    weights: Sequence[float],
    known_negative: np.ndarray | None,
) -> np.ndarray:
    """float32 weighted average of the members, accumulated in float64 chunk by chunk."""
    acc: np.ndarray | None = None
    shape0 = None
    for i, w in zip(members, weights, strict=True):
        c = fetch_candidate(oofs, i)
        if acc is None:
            acc, shape0 = np.zeros(c.shape), c.shape
        elif c.shape != shape0:
            raise DataError(
                f"candidate {i} has shape {c.shape}, expected {shape0} like candidate {members[0]}"
            )
        for rows in _row_blocks(c.shape[0], c.shape[1] if c.ndim == 2 else 1):
            acc[rows] += w * c[rows].astype(np.float64)
    if acc is None:
        raise ConfigError("ensemble blend: no members to blend")
    out = acc.astype(np.float32)
    if known_negative is not None:
        out[np.asarray(known_negative, dtype=bool)] = 0.0
    return out


def _metric(Yb: np.ndarray, P: np.ndarray, rows: np.ndarray) -> float:
    """mean_columnwise_log_loss(Y[rows], P[rows]), by row chunks to bound float64 temporaries."""
    col_sums = np.zeros(Yb.shape[1])
    for block in _row_blocks(*Yb.shape):
        keep = rows[block]
        if keep.any():
            n_block = int(keep.sum())
            col_sums += columnwise_log_loss(Yb[block][keep], P[block][keep]) * n_block
    return float((col_sums / rows.sum()).mean())
