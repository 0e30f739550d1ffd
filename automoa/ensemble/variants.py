"""Selection variants: ways to choose members and weights, each judged by its honest estimate.

Greedy selection over many near-identical candidates overfits the out-of-fold predictions it
climbs on. The variants trade that off differently:

- ``best_single``: the best candidate alone (the floor every ensemble must beat);
- ``greedy``: Caruana et al. (2004) forward selection with replacement over the candidate pool;
- ``greedy_init``: the same, started from the few best candidates (sorted initialisation); not
  offered by default (``init_best=0``): it was never kept in the 12 benchmark studies of
  ``benchmarks/results/ensemble/`` and tied ``greedy`` on 300 synthetic candidates;
- ``bagged``: selection repeated on random halves of the pool and averaged (Caruana et al.
  2006), which damps the weight of candidates that only fit noise;
- ``constrained``: weights fitted with SLSQP, non-negative and summing to 1, over the pool's
  best few candidates;
- ``greedy_top``: greedy selection over the best candidates by CV score (every candidate up to
  50), not only the diverse pool: on 24k-row MoA-like data with 27 candidates it beat the pool
  by 0.15% in the honest estimate, and at 300 near-copies the best 50 cost a sixth of all.

The pool is a candidate set trimmed for diversity (:func:`diverse_pool`): the best few per
group (a model family with its preprocessing chain), since the best 300 by score are mostly
near-copies of one configuration.

A variant's cost is counted in *passes*: reading and scoring one candidate over every cell.
The pipeline turns passes into seconds with a rate it measures on this machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from automoa.ensemble.checks import Candidates
from automoa.ensemble.selection import SCREEN_STRIDE, Ensemble, select
from automoa.ensemble.weights import fit_constrained_weights
from automoa.exceptions import ConfigError

#: SLSQP evaluations a constrained fit typically needs (each about two passes per candidate).
_CONSTRAINED_EVALUATIONS = 40
#: Greedy's exact-scoring shortlist and patience in the ensemble step. On 300 candidates of
#: 24k x 206 (benchmarks/results/ensemble_selection.md) the selection variants with their
#: honest estimates took 54 s with these, ``greedy_top`` over the best 50 and no
#: ``greedy_init``, against 191 s with 16, 10, both and greedy over all 300; the kept honest
#: estimate was 0.03% worse. Real studies: benchmarks/results/ensemble/settings.md.
SHORTLIST = 4
GREEDY_PATIENCE = 5


def diverse_pool(groups: Sequence[str], per_group: int, limit: int) -> np.ndarray:
    """Indices of the best ``per_group`` candidates of each group, at most ``limit`` in all.

    Args:
        groups: the group of each candidate, candidates ordered best first.
        per_group: candidates kept per group.
        limit: candidates kept at most (the best by order).

    Returns:
        Ascending candidate indices.
    """
    if per_group < 1 or limit < 1:
        raise ConfigError(
            f"diverse pool: expected per_group and limit >= 1, got {per_group} and {limit}"
        )
    seen: dict[str, int] = {}
    chosen = []
    for index, group in enumerate(groups):
        if seen.get(group, 0) < per_group:
            seen[group] = seen.get(group, 0) + 1
            chosen.append(index)
            if len(chosen) == limit:
                break
    return np.asarray(chosen, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class SelectionVariant:
    """One way of selecting an ensemble from a subset of the candidates.

    Attributes:
        name: the variant's name in reports.
        pool: the candidate indices it may use, ascending.
        method: ``"greedy"`` or ``"constrained"``.
        options: keyword options of :func:`automoa.ensemble.selection.select` (greedy only).
        note: what it is, for reports.
    """

    name: str
    pool: np.ndarray
    method: str = "greedy"
    options: dict[str, object] = field(default_factory=dict)
    note: str = ""

    def passes(self) -> float:
        """Candidate passes of one selection on every row (the unit of the cost estimate)."""
        m = len(self.pool)
        if self.method == "constrained":
            return 2.0 * m * _CONSTRAINED_EVALUATIONS
        iterations = int(self.options.get("max_iterations", 50))
        shortlist = int(self.options.get("shortlist", 16))
        rounds = int(self.options.get("bagging_rounds", 0))
        size = m
        if rounds:
            size = max(1, round(float(self.options.get("bagging_fraction", 0.5)) * m))
        per_iteration = size if not 0 < shortlist < size else size / SCREEN_STRIDE + shortlist
        return per_iteration * iterations * max(1, rounds)

    def select(
        self,
        oofs: Candidates,
        Y: np.ndarray,
        rows: np.ndarray | None,
        known_negative: np.ndarray | None,
    ) -> Ensemble:
        """Select on ``rows`` (``None``: every row); members are indices of ``oofs``."""
        subset = [oofs[int(i)] for i in self.pool]
        if self.method == "constrained":
            local = fit_constrained_weights(subset, Y, rows=rows, known_negative=known_negative)
        else:
            local = select(subset, Y, rows=rows, known_negative=known_negative, **self.options)
        members = tuple(int(self.pool[i]) for i in local.members)
        order = np.argsort(members, kind="stable")
        return Ensemble(
            members=tuple(members[i] for i in order),
            weights=tuple(local.weights[i] for i in order),
            score=local.score,
            trajectory=local.trajectory,
        )


def standard_variants(
    groups: Sequence[str],
    *,
    max_iterations: int = 50,
    shortlist: int = SHORTLIST,
    per_group: int = 3,
    pool_limit: int = 24,
    init_best: int = 0,
    bagging_rounds: int = 4,
    bagging_fraction: float = 0.5,
    constrained_members: int = 8,
    seed: int = 0,
    top_pool: int = 50,
    patience: int = GREEDY_PATIENCE,
) -> list[SelectionVariant]:
    """The variants the ensemble step compares, cheapest first.

    Args:
        groups: the group of each candidate (e.g. family and preprocessing chain), best first.
        max_iterations: greedy steps.
        shortlist: greedy's exact-scoring shortlist (see :func:`select`).
        per_group: candidates per group in the diverse pool.
        pool_limit: candidates in the diverse pool at most.
        init_best: best candidates that start ``greedy_init`` (below 2: no ``greedy_init``).
        bagging_rounds: selections averaged by ``bagged``.
        bagging_fraction: share of the pool in each bagging round.
        constrained_members: best pool candidates given to ``constrained``.
        seed: seed of the bagging subsets.
        top_pool: candidates (the best by order) of ``greedy_top``, offered when the diverse
            pool has fewer; 0 leaves it out.
        patience: greedy steps without a new best after which a greedy selection stops.

    Returns:
        The variants; those that would repeat another (e.g. a pool of one candidate) are left
        out.
    """
    m = len(groups)
    if m == 0:
        raise ConfigError("selection variants: no candidates")
    everyone = np.arange(m)
    pool = diverse_pool(groups, per_group, pool_limit)
    greedy = {"max_iterations": max_iterations, "shortlist": shortlist, "patience": patience}
    variants = [
        SelectionVariant(
            "best_single",
            everyone,
            options={"max_iterations": 1, "shortlist": shortlist},
            note="the best candidate alone",
        )
    ]
    if m == 1:
        return variants
    pool_note = f"{len(pool)} candidates, best {per_group} per family and preprocessing"
    variants.append(SelectionVariant("greedy", pool, options=greedy, note=pool_note))
    if len(pool) > 1:
        top = pool[: min(constrained_members, len(pool))]
        variants.append(
            SelectionVariant(
                "constrained",
                top,
                method="constrained",
                note=f"SLSQP weights over the pool's best {len(top)}",
            )
        )
        start = min(init_best, len(pool), max_iterations)
        if start > 1:
            variants.append(
                SelectionVariant(
                    "greedy_init",
                    pool,
                    options={**greedy, "init_best": start},
                    note=f"greedy from the best {start}",
                )
            )
        if bagging_rounds > 0 and len(pool) > 2:
            variants.append(
                SelectionVariant(
                    "bagged",
                    pool,
                    options={
                        **greedy,
                        "bagging_rounds": bagging_rounds,
                        "bagging_fraction": bagging_fraction,
                        "seed": seed,
                    },
                    note=f"{bagging_rounds} rounds on {bagging_fraction:g} of the pool",
                )
            )
    top = min(top_pool, m)
    if top > len(pool):
        note = f"greedy over all {m} candidates" if top == m else f"greedy over the best {top}"
        variants.append(SelectionVariant("greedy_top", everyone[:top], options=greedy, note=note))
    return variants
