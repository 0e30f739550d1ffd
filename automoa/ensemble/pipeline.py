"""The ensemble step as a pipeline of stages, each judged by an honest estimate.

1. **Selection.** Every variant of :mod:`automoa.ensemble.variants` that fits the time left
   is run once per fold without that fold's rows, and its held-out blend is scored; the
   variant with the best honest estimate selects the members on every row.
2. **Level 2.** Each stage of :mod:`automoa.ensemble.level2` gets a nested estimate on the
   ensembles the kept variant selected without each fold; the best one replaces the weighted
   average if it beats the selection's estimate.
3. **Clipping.** Bounds each fold chooses on the other folds' held-out predictions, kept if
   they improve the estimate.
4. **The floor.** An ensemble whose honest estimate is worse than the best single
   candidate's own CV score is replaced by that candidate alone.

Time: a stage runs only when its predicted seconds fit the :class:`~automoa.deadline.Deadline`.
Predictions count candidate passes (:meth:`SelectionVariant.passes`) and turn them into
seconds with the time of one pass measured here at the start, corrected after each stage by
the ratio of measured to predicted seconds so far. Nothing depends on a machine constant.

The pipeline is pure: arrays in, a :class:`PipelineResult` out. Loading candidates from a
study and persisting the result is :mod:`automoa.search.ensembling`'s job.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from automoa.deadline import Deadline
from automoa.ensemble.checks import Candidates, check_labels, fetch_candidate
from automoa.ensemble.clipping import honest_clip
from automoa.ensemble.combiner import Combiner
from automoa.ensemble.level2 import Level2Model, Level2Stage, level2_method, standard_stages
from automoa.ensemble.selection import Ensemble, HonestResult, select
from automoa.ensemble.variants import (
    GREEDY_PATIENCE,
    SHORTLIST,
    SelectionVariant,
    standard_variants,
)
from automoa.exceptions import ConfigError, DataError
from automoa.folds import check_fold_labels
from automoa.metrics import columnwise_log_loss, mean_columnwise_log_loss

#: Candidates (the best by CV score) among which ``best_single`` picks per fold: one exact
#: pass each.
BEST_SINGLE_POOL = 50
#: Fewest greedy steps worth running when the whole selection does not fit the time left.
MIN_GREEDY_STEPS = 5
#: Share of the time left that a shortened selection may be predicted to take (the rest is for
#: the stages after it and the final fit).
_SHORTENED_SHARE = 0.6


@dataclass(frozen=True)
class StageRecord:
    """What one stage did.

    Attributes:
        stage: the stage's name (a selection variant, a level-2 stage, ``clipping`` or
            ``floor``).
        kind: ``selection``, ``level2``, ``clipping`` or ``floor``.
        honest_score: its honest estimate, or ``None`` when it did not run.
        kept: whether the final ensemble uses it.
        note: what it is, or why it did not run.
        seconds: measured time.
        predicted_seconds: the time predicted before it ran (``None`` for stages run always).
    """

    stage: str
    kind: str
    honest_score: float | None
    kept: bool
    note: str
    seconds: float = 0.0
    predicted_seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass(frozen=True)
class PipelineOptions:
    """Options of the ensemble pipeline.

    Attributes:
        max_iterations: greedy selection steps.
        shortlist: greedy's exact-scoring shortlist.
        per_group: candidates per family and preprocessing chain in the diverse pool.
        pool_limit: candidates in the diverse pool at most.
        init_best: best candidates that start ``greedy_init`` (below 2: no ``greedy_init``).
        bagging_rounds: selections averaged by ``bagged``.
        constrained_members: candidates given to ``constrained`` (SLSQP) weights.
        top_pool: candidates of ``greedy_top`` (greedy over the best by CV score, not only the
            diverse pool); 0 leaves it out.
        patience: greedy steps without a new best after which a greedy selection stops.
        level2: names of the level-2 stages to try (``calibration``, ``cross_label``,
            ``stacking``); empty tries none.
        n_neighbours: labels read by ``cross_label`` besides the label itself.
        clipping: try clipping bounds.
        seed: seed of bagging.
        n_jobs: threads running the honest estimate's folds side by side.
    """

    max_iterations: int = 50
    shortlist: int = SHORTLIST
    per_group: int = 3
    pool_limit: int = 24
    init_best: int = 0
    bagging_rounds: int = 4
    constrained_members: int = 8
    top_pool: int = 50
    patience: int = GREEDY_PATIENCE
    level2: tuple[str, ...] = ("calibration", "cross_label", "stacking")
    n_neighbours: int = 5
    clipping: bool = True
    seed: int = 0
    n_jobs: int = 1


@dataclass(frozen=True, eq=False)
class PipelineResult:
    """The ensemble the pipeline settled on.

    Attributes:
        ensemble: members (candidate indices) and their weights.
        combiner: what turns the members' predictions into the ensemble's.
        selection: the kept selection variant (``best_single`` when the floor applied).
        method: ``average``, ``calibration``, ``stacking`` or ``cross_label``.
        honest_score: the honest estimate of the final ensemble (for the floor, the best
            candidate's own CV score).
        score: the final ensemble's metric on every row, fitted on them (optimistic).
        best_single: the best candidate's CV score.
        floor: whether the best candidate alone replaced an ensemble estimated worse.
        stages: every stage considered, in order.
        honest_oof: float32 (n, L) held-out predictions behind :attr:`honest_score`.
    """

    ensemble: Ensemble
    combiner: Combiner
    selection: str
    method: str
    honest_score: float
    score: float
    best_single: float
    floor: bool
    stages: tuple[StageRecord, ...]
    honest_oof: np.ndarray = field(repr=False)


def shortened(
    variant: SelectionVariant, predicted: float, remaining: float
) -> SelectionVariant | None:
    """``variant`` with fewer greedy steps, so that it fits ``remaining`` seconds, or ``None``
    when it is not a greedy selection or fewer than :data:`MIN_GREEDY_STEPS` would fit.

    A greedy selection is useful after a few steps (its ensemble is the best point of its
    trajectory so far), and its cost is predicted for all ``max_iterations`` steps while it
    usually stops earlier: skipping it whenever the full count did not fit left a 15-minute
    search on 24k rows with its best trial alone (greedy predicted 55 s with 52 s left, where
    a 5-minute search's took 4 s against 20 s predicted).
    """
    if variant.method != "greedy" or predicted <= 0 or not math.isfinite(remaining):
        return None
    iterations = int(variant.options.get("max_iterations", 50))
    steps = int(iterations * _SHORTENED_SHARE * max(remaining, 0.0) / predicted)
    if steps < max(MIN_GREEDY_STEPS, int(variant.options.get("init_best", 0)) + 1):
        return None
    return dataclasses.replace(
        variant,
        options={**variant.options, "max_iterations": min(steps, iterations)},
        note=f"{variant.note}; {steps} steps of {iterations} to fit the time left",
    )


def _no_time_note(predicted: float, deadline: Deadline) -> str:
    """The report note of a stage skipped for lack of time."""
    return f"needs ~{predicted:.0f}s, {max(deadline.remaining(), 0):.0f}s left"


class PassClock:
    """Seconds per candidate pass, measured once and corrected by every stage that ran."""

    def __init__(self, pass_seconds: float) -> None:
        self.pass_seconds = pass_seconds
        self.predicted = 0.0
        self.actual = 0.0

    def predict(self, passes: float) -> float:
        factor = self.actual / self.predicted if self.predicted > 0 else 1.0
        return passes * self.pass_seconds * max(factor, 0.25)

    def observe(self, predicted: float, actual: float) -> None:
        self.predicted += predicted
        self.actual += actual


def run_pipeline(
    oofs: Candidates,
    Y: np.ndarray,
    fold_of: np.ndarray,
    *,
    scores: Sequence[float],
    groups: Sequence[str] | None = None,
    known_negative: np.ndarray | None = None,
    deadline: Deadline | None = None,
    options: PipelineOptions | None = None,
) -> PipelineResult:
    """Select, stack, clip and apply the floor; every choice by an honest estimate.

    Args:
        oofs: the candidates' (n, L) out-of-fold predictions (arrays, memmaps or loaders),
            aligned row for row, ordered best first.
        Y: (n, L) 0/1 labels.
        fold_of: (n,) the fold of each row (the folds the OOF predictions come from).
        scores: each candidate's own CV score (the floor's reference).
        groups: each candidate's group for the diverse pool (e.g. ``"mlp|rankgauss"``);
            ``None`` puts each candidate in a group of its own.
        known_negative: optional (n,) boolean mask of rows predicted 0.
        deadline: when the step must be done; ``None`` has no limit.
        options: the pipeline's options.

    Returns:
        The :class:`PipelineResult`.

    Raises:
        DataError: malformed candidates, labels, folds or scores.
        ConfigError: bad options.
    """
    options = options or PipelineOptions()
    deadline = deadline or Deadline(None)
    Yb, kn = check_labels(Y, known_negative)
    fold_of, folds = check_fold_labels(fold_of, Yb.shape[0])
    m = len(oofs)
    if m == 0:
        raise DataError("ensemble pipeline: no candidates given")
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (m,) or not np.isfinite(scores).all():
        raise DataError(f"scores: expected {m} finite CV scores, one per candidate")
    groups = [str(i) for i in range(m)] if groups is None else [str(g) for g in groups]
    if len(groups) != m:
        raise DataError(f"groups: expected {m} groups, one per candidate, got {len(groups)}")
    unknown = sorted(set(options.level2) - {s.name for s in standard_stages()})
    if unknown:
        raise ConfigError(f"level2: unknown stage(s) {', '.join(unknown)}")
    best = int(np.argmin(scores))
    stages: list[StageRecord] = []

    # One blend-and-score of the best candidate costs about four passes (check, score, blend,
    # exact metric): the first estimate of a pass's seconds on this machine.
    started = time.perf_counter()
    select([oofs[best]], Yb, max_iterations=1, shortlist=0, known_negative=kn)
    clock = PassClock(max((time.perf_counter() - started) / 4, 1e-7))
    started = time.perf_counter()
    single = _best_single_honest(oofs, Yb, fold_of, folds, kn, limit=BEST_SINGLE_POOL)
    stages.append(
        StageRecord(
            "best_single",
            "selection",
            single.score,
            False,
            f"the candidate best on the other folds, among the {min(m, BEST_SINGLE_POOL)} best",
            time.perf_counter() - started,
        )
    )

    variants = standard_variants(
        groups,
        max_iterations=options.max_iterations,
        shortlist=options.shortlist,
        per_group=options.per_group,
        pool_limit=options.pool_limit,
        init_best=options.init_best,
        bagging_rounds=options.bagging_rounds,
        constrained_members=options.constrained_members,
        seed=options.seed,
        top_pool=options.top_pool,
        patience=options.patience,
    )

    def selection_seconds(variant: SelectionVariant) -> float:
        # the selection on all rows plus one per nested fold, each on about 80% of the rows
        return clock.predict(variant.passes() * (1 + 0.8 * len(folds)))

    chosen_name, chosen = "best_single", single
    ran = {}
    for variant in variants:
        if variant.name == "best_single":
            continue
        predicted = selection_seconds(variant)
        if not deadline.can_fit(predicted):
            shorter = shortened(variant, predicted, deadline.remaining())
            if shorter is None:
                note = _no_time_note(predicted, deadline)
                record = StageRecord(variant.name, "selection", None, False, note, 0.0, predicted)
                stages.append(record)
                continue
            variant = shorter
            predicted = selection_seconds(variant)
        ran[variant.name] = variant
        began = time.perf_counter()
        honest = _honest_variant(variant, oofs, Yb, fold_of, folds, kn, options.n_jobs)
        took = time.perf_counter() - began
        clock.observe(predicted, took)
        stages.append(
            StageRecord(
                variant.name, "selection", honest.score, False, variant.note, took, predicted
            )
        )
        if honest.score < chosen.score:
            chosen_name, chosen = variant.name, honest

    by_name = {v.name: v for v in variants}
    final_variant = ran.get(chosen_name, by_name["best_single"])
    ensemble = final_variant.select(oofs, Yb, None, kn)
    _mark_kept(stages, chosen_name)
    current_score, current_oof = chosen.score, chosen.oof

    level2_model: Level2Model | None = None
    member_oofs = [fetch_candidate(oofs, i) for i in ensemble.members]
    tried = [s for s in standard_stages(options.n_neighbours) if s.name in options.level2]
    winner: tuple[Level2Stage, float, np.ndarray] | None = None
    for stage in tried:
        reason = stage.unusable(len(ensemble.members), Yb.shape[1])
        if reason is None and chosen_name == "best_single" and stage.name == "stacking":
            reason = "one member: nothing to stack"
        if reason is not None:
            stages.append(StageRecord(stage.name, "level2", None, False, reason))
            continue
        predicted = clock.predict(stage.passes(len(ensemble.members), len(folds)))
        if not deadline.can_fit(predicted):
            note = _no_time_note(predicted, deadline)
            stages.append(StageRecord(stage.name, "level2", None, False, note, 0.0, predicted))
            continue
        began = time.perf_counter()
        nested = stage.honest(oofs, Yb, fold_of, chosen, kn)
        took = time.perf_counter() - began
        clock.observe(predicted, took)
        stages.append(
            StageRecord(stage.name, "level2", nested.score, False, stage.note, took, predicted)
        )
        if nested.score < current_score and (winner is None or nested.score < winner[1]):
            winner = (stage, nested.score, nested.oof)
    if winner is not None:
        stage, current_score, current_oof = winner
        _mark_kept(stages, stage.name)
        level2_model = stage.fit(member_oofs, Yb, ensemble.weights, kn)

    clip = None
    if options.clipping:
        began = time.perf_counter()
        nested_clip = honest_clip(current_oof, Yb, fold_of, known_negative=kn)
        kept = nested_clip.score < current_score and not nested_clip.clip.is_identity
        note = f"bounds [{nested_clip.clip.low:g}, 1 - {nested_clip.clip.high:g}]"
        stages.append(
            StageRecord(
                "clipping", "clipping", nested_clip.score, kept, note, time.perf_counter() - began
            )
        )
        if kept:
            current_score, clip = nested_clip.score, nested_clip.clip
            current_oof = current_oof.copy()
            for fold, fold_clip in zip(nested_clip.folds, nested_clip.fold_clips, strict=True):
                in_fold = fold_of == fold
                current_oof[in_fold] = fold_clip.apply(current_oof[in_fold], kn[in_fold])

    floor = bool(current_score > scores[best])
    if floor:
        # The ensemble's estimate is worse than the best candidate's own CV score.
        stages = [_with_kept(r, False) for r in stages]
        stages.append(
            StageRecord(
                "floor",
                "floor",
                float(scores[best]),
                True,
                f"honest estimate {current_score:.6g} is worse than the best single "
                f"candidate's CV {scores[best]:.6g}: the best candidate alone",
            )
        )
        ensemble = Ensemble((best,), (1.0,), float(scores[best]), (float(scores[best]),))
        level2_model, clip, chosen_name = None, None, "best_single"
        current_score = float(scores[best])
        current_oof = np.array(fetch_candidate(oofs, best), dtype=np.float32)
        current_oof[kn] = 0.0
        member_oofs = [fetch_candidate(oofs, best)]
    combiner = Combiner(tuple(ensemble.weights), level2_model, clip)
    fitted = combiner.combine(member_oofs, kn)
    return PipelineResult(
        ensemble=ensemble,
        combiner=combiner,
        selection=chosen_name,
        method=level2_method(level2_model),
        honest_score=float(current_score),
        score=mean_columnwise_log_loss(Yb, fitted),
        best_single=float(scores[best]),
        floor=floor,
        stages=tuple(stages),
        honest_oof=current_oof,
    )


def _mark_kept(stages: list[StageRecord], name: str) -> None:
    for index, record in enumerate(stages):
        if record.stage == name:
            stages[index] = _with_kept(record, True)


def _with_kept(record: StageRecord, kept: bool) -> StageRecord:
    return StageRecord(**{**record.to_dict(), "kept": kept})


def _honest_variant(
    variant: SelectionVariant,
    oofs: Candidates,
    Yb: np.ndarray,
    fold_of: np.ndarray,
    folds: tuple[int, ...],
    kn: np.ndarray,
    n_jobs: int = 1,
) -> HonestResult:
    """Each fold blended by the variant's selection on the other folds (folds in threads)."""

    def one_fold(fold: int) -> Ensemble:
        return variant.select(oofs, Yb, fold_of != fold, kn)

    if n_jobs > 1:
        # numpy releases the GIL in the chunked kernels: folds run side by side.
        with ThreadPoolExecutor(min(n_jobs, len(folds))) as pool:
            ensembles = list(pool.map(one_fold, folds))
    else:
        ensembles = [one_fold(fold) for fold in folds]
    assembled = np.empty(Yb.shape, dtype=np.float32)
    fold_scores = []
    for fold, ens in zip(folds, ensembles, strict=True):
        in_fold = fold_of == fold
        assembled[in_fold] = ens.blend(oofs, known_negative=kn)[in_fold]
        fold_scores.append(mean_columnwise_log_loss(Yb[in_fold], assembled[in_fold]))
    return _assembled_result(Yb, folds, fold_scores, ensembles, assembled)


def _assembled_result(
    Yb: np.ndarray,
    folds: tuple[int, ...],
    fold_scores: Sequence[float],
    ensembles: Sequence[Ensemble],
    assembled: np.ndarray,
) -> HonestResult:
    """The honest result of the out-of-fold predictions ``assembled``, scored over all rows."""
    return HonestResult(
        score=mean_columnwise_log_loss(Yb, assembled),
        folds=folds,
        fold_scores=tuple(fold_scores),
        ensembles=tuple(ensembles),
        oof=assembled,
    )


def _best_single_honest(
    oofs: Candidates,
    Yb: np.ndarray,
    fold_of: np.ndarray,
    folds: tuple[int, ...],
    kn: np.ndarray,
    limit: int,
) -> HonestResult:
    """Each fold predicted by the candidate best on the other folds, among the first ``limit``."""
    m = min(len(oofs), limit)
    n_labels = Yb.shape[1]
    sizes = np.array([(fold_of == f).sum() for f in folds], dtype=np.float64)
    # Summed loss of each candidate on each fold (a 0 prediction on known-negative rows).
    loss = np.zeros((m, len(folds)))
    for i in range(m):
        c = np.asarray(fetch_candidate(oofs, i))
        for j, fold in enumerate(folds):
            in_fold = fold_of == fold
            p = c[in_fold].copy()
            p[kn[in_fold]] = 0.0
            loss[i, j] = columnwise_log_loss(Yb[in_fold], p).sum() * sizes[j]
    assembled = np.empty(Yb.shape, dtype=np.float32)
    ensembles, fold_scores = [], []
    for j, fold in enumerate(folds):
        others = np.delete(np.arange(len(folds)), j)
        pick = int(np.argmin(loss[:, others].sum(axis=1)))
        in_fold = fold_of == fold
        pred = np.asarray(fetch_candidate(oofs, pick)[in_fold], dtype=np.float32).copy()
        pred[kn[in_fold]] = 0.0
        assembled[in_fold] = pred
        score_others = loss[pick, others].sum() / (sizes[others].sum() * n_labels)
        ensembles.append(Ensemble((pick,), (1.0,), float(score_others), (float(score_others),)))
        fold_scores.append(mean_columnwise_log_loss(Yb[in_fold], pred))
    return _assembled_result(Yb, folds, fold_scores, ensembles, assembled)
