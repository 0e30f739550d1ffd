"""The ``nonlinear`` mode of :func:`~automoa.data.make_moa_like`: labels a linear model cannot fit.

Generative story. Every drug has a latent state ``z`` in R^K: the activations of K gene
programmes, mostly near zero with a few strongly up or down (sparse spikes on a small dense
baseline). A replicate row of the drug sees that state through the genes (``z`` times the
programmes' gene loadings) and the cells (a few programmes lower or raise viability), scaled
by the drug's potency, dose and time, on top of correlated background and noise, so the
features are noisy linear views of the drug state. Each label's probability is a nonlinear
function of the state, one of:

- ``and``: both of two programmes pushed past a threshold (a soft AND of two thresholds);
- ``product``: the sign interaction of two programmes (up-up and down-down, XOR-like);
- ``magnitude``: one programme strongly up or strongly down;
- ``teacher``: a random hidden-unit network ``a . relu(W z_S + b)`` on a few programmes;
- ``linear``: a weighted sum of a few programmes (a minority, as real mechanisms differ).

Scores are standardised and scaled by a per-label steepness into logits. Scored labels compete,
as mechanisms of one drug mostly do on MoA: each drug has at most one primary mechanism, drawn
from the softmax over "none" (logit 0) and the labels' logits (Gumbel-max), and some labels
bring a fixed companion label along with probability ``COMPANION_RATE`` (MoA's recurring label
pairs). The logits' offsets are calibrated on the training drugs so that the expected positive
rows follow MoA's heavy-tailed label counts. Labels belong to the drug: one draw per drug,
shared by its replicates. Non-scored targets are independent draws of their own functions.

The **true probability** of a (row, scored label) is the probability that the label is
positive given the drug's latent state: the softmax probability of being the primary mechanism
plus the companion probability contributed by the labels it accompanies (0 for control rows).
It is written to 6 significant digits, within [1e-9, 1 - 1e-6]. Scored with the metric it
gives the Bayes (oracle) log loss, a lower bound in expectation for any predictor of the
features. Nothing is re-drawn after the fact, so the labels are exactly draws from these
probabilities; the price is that a rare label may have no positive in a small training split
(the loader keeps it, with a warning).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

PROGRAMMES = 8  # latent gene programmes; few, so that labels share them (as mechanisms do)
KINDS = ("and", "product", "magnitude", "teacher", "linear")
KIND_SHARES = (0.30, 0.20, 0.15, 0.25, 0.10)
STEEPNESS = (3.0, 8.0)  # per-label slope of the logit in standard deviations of the score
ACTIVE_RATE = 0.3  # chance that a drug drives a given programme strongly
COMPANION_SHARE, COMPANION_RATE = 0.2, 0.7  # labels with a companion; how often it comes along
SMALL_DRUG_RATE, DOUBLE_DRUG_RATE = 0.08, 0.05
PROB_FLOOR, PROB_CEIL = 1e-9, 1 - 1e-6
_REFERENCE_DRUGS = 4000  # a fixed sample of states that standardises each label's score


@dataclass
class _Label:
    kind: str
    programmes: np.ndarray
    weights: np.ndarray  # kind-specific: signs, linear weights or the teacher's W
    bias: np.ndarray  # the teacher's hidden biases (empty otherwise)
    out: np.ndarray  # the teacher's output weights (empty otherwise)
    steepness: float
    scale: float = 1.0

    def score(self, z: np.ndarray) -> np.ndarray:
        """The raw nonlinear score of each state (rows of ``z``)."""
        zs = z[:, self.programmes]
        if self.kind == "and":
            return np.minimum(*(zs * self.weights).T)
        if self.kind == "product":
            return self.weights[0] * zs[:, 0] * zs[:, 1]
        if self.kind == "magnitude":
            return np.abs(zs[:, 0])
        if self.kind == "teacher":
            return np.maximum(zs @ self.weights + self.bias, 0.0) @ self.out
        return zs @ self.weights

    def logit(self, z: np.ndarray) -> np.ndarray:
        """The logit before the label's calibrated offset."""
        return self.steepness * self.score(z) / self.scale


def _draw_label(rng: np.random.Generator, reference: np.ndarray) -> _Label:
    kind = str(rng.choice(KINDS, p=KIND_SHARES))
    k = reference.shape[1]
    empty = np.zeros(0)
    if kind in ("and", "product"):
        label = _Label(
            kind, rng.choice(k, 2, replace=False), rng.choice([-1.0, 1.0], 2), empty, empty, 0.0
        )
    elif kind == "magnitude":
        label = _Label(kind, rng.choice(k, 1), empty, empty, empty, 0.0)
    elif kind == "teacher":
        m, hidden = int(rng.integers(2, 5)), 4
        out = rng.normal(0, 1, hidden)
        out[: hidden // 2] = np.abs(out[: hidden // 2])  # mixed signs: bumps and ridges, not
        out[hidden // 2 :] = -np.abs(out[hidden // 2 :])  # one monotone direction
        label = _Label(
            kind,
            rng.choice(k, m, replace=False),
            rng.normal(0, 1, (m, hidden)),
            rng.normal(0, 1, hidden),
            out,
            0.0,
        )
    else:
        m = int(rng.integers(1, 4))
        label = _Label(
            kind, rng.choice(k, m, replace=False), rng.normal(0, 1, m), empty, empty, 0.0
        )
    label.steepness = float(rng.uniform(*STEEPNESS))
    label.scale = float(np.std(label.score(reference))) or 1.0
    return label


def drug_sizes(
    rng: np.random.Generator, n_treated: int, big: tuple[float, ...], n_rows: int
) -> np.ndarray:
    """Rows per treated drug: a few very large drugs, mostly 6 rows, some 12, some 1-5."""
    sizes = [max(1, round(f * n_rows)) for f in big]
    sizes = [s for s in sizes if s < n_treated // 4]  # small data: no giant drug
    left = n_treated - sum(sizes)
    while left > 0:
        u = rng.random()
        size = (
            int(rng.integers(1, 6))
            if u < SMALL_DRUG_RATE
            else 12
            if u > 1 - DOUBLE_DRUG_RATE
            else 6
        )
        size = min(size, left)
        sizes.append(size)
        left -= size
    return rng.permutation(np.array(sizes, dtype=np.int64))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow warnings for large ``|x|``."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax_with_none(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities of each column against the others and "none" (logit 0)."""
    top = np.maximum(logits.max(axis=1, keepdims=True), 0.0)
    e = np.exp(logits - top)
    return e / (np.exp(-top) + e.sum(axis=1, keepdims=True))


def _fit_offsets(
    logits: np.ndarray,
    sizes: np.ndarray,
    target: np.ndarray,
    marginals: Callable[[np.ndarray], np.ndarray] | None = None,
) -> np.ndarray:
    """Offsets ``c`` with sum_d size_d prob_dj(logit - c) = target_j for every column j.

    Independent columns (sigmoid) are solved by bisection; competing ones (``marginals`` of
    the softmax with "none") by iterative proportional fitting: a log-ratio update.
    """
    if marginals is None:
        lo, hi = np.full(logits.shape[1], -80.0), np.full(logits.shape[1], 80.0)
        for _ in range(50):
            mid = (lo + hi) / 2
            too_many = sizes @ sigmoid(logits - mid) > target
            lo, hi = np.where(too_many, mid, lo), np.where(too_many, hi, mid)
        return (lo + hi) / 2
    c = np.zeros(logits.shape[1])
    for _ in range(200):
        expected = sizes @ marginals(_softmax_with_none(logits - c))
        step = np.clip(np.log(expected / target), -5.0, 5.0)
        c += step
        if np.abs(step).max() < 1e-4:
            break
    return c


def _text(p: np.ndarray) -> np.ndarray:
    return np.char.mod("%.6g", np.clip(p, PROB_FLOOR, PROB_CEIL))


class LatentModel:
    """Programme loadings and label functions shared by the train and test rows."""

    def __init__(
        self, rng: np.random.Generator, n_labels: int, n_aux: int, n_genes: int, n_cells: int
    ) -> None:
        k = PROGRAMMES
        self.n_genes, self.n_cells, self.n_labels = n_genes, n_cells, n_labels
        self.loadings = np.zeros((k, n_genes), dtype=np.float32)
        for i in range(k):
            m = int(rng.integers(15, 50)) if n_genes > 50 else max(1, n_genes // 3)
            cols = rng.choice(n_genes, size=m, replace=False)
            self.loadings[i, cols] = rng.choice([-1, 1], m) * rng.uniform(0.4, 1.2, m)
        # a few programmes move every cell viability (cytotoxic or protective)
        self.cell_weights = np.zeros(k, dtype=np.float32)
        chosen = rng.choice(k, 4, replace=False)
        self.cell_weights[chosen] = rng.choice([-1, 1], 4) * rng.uniform(0.5, 1.5, 4)
        self.gene_factors = rng.normal(0, 0.7, (12, n_genes)).astype(np.float32)
        self.cell_loadings = rng.uniform(0.7, 1.0, n_cells).astype(np.float32)
        self.drug_factors = rng.normal(0, 0.3, (8, n_genes)).astype(np.float32)
        self.reference = self.states(rng, _REFERENCE_DRUGS)
        self.labels = [_draw_label(rng, self.reference) for _ in range(n_labels + n_aux)]
        self.offsets = np.zeros(n_labels + n_aux)
        # companion[j] = i: label j brings label i along (-1: none); chosen at calibration
        self.companion = np.full(n_labels, -1)

    @staticmethod
    def states(rng: np.random.Generator, n_drugs: int) -> np.ndarray:
        """Latent programme activations of ``n_drugs`` drugs: sparse spikes on a dense base."""
        base = 0.4 * rng.standard_normal((n_drugs, PROGRAMMES))
        active = rng.random((n_drugs, PROGRAMMES)) < ACTIVE_RATE
        spikes = rng.choice([-1.0, 1.0], base.shape) * rng.uniform(1.0, 3.0, base.shape)
        return base + active * spikes

    def _logits(self, z: np.ndarray, columns: list[int]) -> np.ndarray:
        raw = np.stack([self.labels[j].logit(z) for j in columns], axis=1)
        return raw - self.offsets[columns]

    def _choose_companions(self, rng: np.random.Generator, counts: np.ndarray) -> None:
        """Give some labels a companion that can take it: what companions bring to a label
        stays within half of its expected count, so its own offset can make up the rest."""
        room = counts / 2
        for j in np.flatnonzero(rng.random(self.n_labels) < COMPANION_SHARE):
            fits = np.flatnonzero(room >= COMPANION_RATE * counts[j])
            fits = fits[fits != j]
            if fits.size:
                self.companion[j] = rng.choice(fits)
                room[self.companion[j]] -= COMPANION_RATE * counts[j]

    def _marginals(self, primary: np.ndarray) -> np.ndarray:
        """P(label positive) from P(label is the primary mechanism), companions included."""
        p = primary.copy()
        for j in np.flatnonzero(self.companion >= 0):
            p[:, self.companion[j]] += COMPANION_RATE * primary[:, j]
        return p

    def draw_labels(
        self,
        rng: np.random.Generator,
        z: np.ndarray,
        sizes: np.ndarray,
        aux_active: np.ndarray,
        counts: np.ndarray | None,
        aux_counts: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Labels of drugs with states ``z``: (scored + auxiliary indicators, true probabilities
        of the scored labels as text).

        With ``counts`` (the training drugs) the offsets are first calibrated so that the
        expected positive rows are ``counts`` (scored) and ``aux_counts`` (active auxiliary).
        """
        n_labels, n_drugs = self.n_labels, z.shape[0]
        scored = list(range(n_labels))
        aux = [n_labels + a for a in np.flatnonzero(aux_active)]
        weights = sizes.astype(np.float64)
        if counts is not None:
            self._choose_companions(rng, counts)
            self.offsets[scored] += _fit_offsets(
                self._logits(z, scored), weights, counts, self._marginals
            )
        if aux and aux_counts is not None:
            self.offsets[aux] += _fit_offsets(self._logits(z, aux), weights, aux_counts)
        gumbel = rng.gumbel(size=(n_drugs, n_labels + 1))
        along = rng.random((n_drugs, n_labels)) < COMPANION_RATE
        logits = self._logits(z, scored)
        # Gumbel-max: the primary mechanism (or none) of each drug, drawn from the softmax
        winner = np.argmax(np.hstack([np.zeros((n_drugs, 1)), logits]) + gumbel, axis=1)
        sets = np.zeros((n_drugs, n_labels + len(aux_active)), dtype=bool)
        rows = np.flatnonzero(winner > 0)
        sets[rows, winner[rows] - 1] = True
        brings = sets[:, :n_labels] & along & (self.companion >= 0)
        for d, j in zip(*np.nonzero(brings), strict=True):
            sets[d, self.companion[j]] = True
        if aux:
            p_aux = sigmoid(self._logits(z, aux))
            sets[:, aux] = rng.random(p_aux.shape) < p_aux
        return sets, _text(self._marginals(_softmax_with_none(logits)))

    def features(
        self, rng: np.random.Generator, z: np.ndarray, drug_of: np.ndarray, strength: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gene and cell matrices of rows of drugs with states ``z`` (controls: strength 0)."""
        n = drug_of.size
        z32 = z.astype(np.float32)
        drug_genes = z32 @ self.loadings + (
            rng.standard_normal((z.shape[0], 8), dtype=np.float32) @ self.drug_factors
        )
        genes = rng.standard_normal((n, 12), dtype=np.float32) @ self.gene_factors
        genes += 0.8 * rng.standard_normal((n, self.n_genes), dtype=np.float32)
        genes += strength[:, None] * drug_genes[drug_of]
        drug_cells = z32 @ self.cell_weights
        viability = rng.standard_normal(n, dtype=np.float32) + strength * drug_cells[drug_of]
        cells = viability[:, None] * self.cell_loadings
        cells += 0.6 * rng.standard_normal((n, self.n_cells), dtype=np.float32)
        return np.clip(genes, -10, 10), np.clip(cells, -10, 10)
