"""A synthetic data set with the shape and statistics of the Kaggle MoA data (see MOA.md).

The generator works at the level of drugs, as the real data does: every treated drug carries
one label set and all its rows share it, so label counts come in drug-sized chunks, drug-aware
folds matter, and a label with one positive is a one-row drug. Features are correlated Gaussian
noise plus a sparse per-label signature (genes) and a shared viability shift (cells) scaled by
dose, time and drug potency, so the labels are learnable and PCA of the cells is informative.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from automoa.data.synthetic_nonlinear import LatentModel, drug_sizes
from automoa.exceptions import ConfigError, check_directory_path, check_seed

# Figures of the real data (MOA.md): 23,814 rows, 1,866 controls, 16,844 positives in 206
# targets, 3,982 test rows, largest drug 718 rows, 8 drugs with more than 18 rows.
CONTROL_FRACTION = 1_866 / 23_814
POSITIVE_RATE = 16_844 / (23_814 * 206)
AUX_POSITIVE_RATE = 0.0004
AUX_NEVER_POSITIVE = 71 / 402
TEST_FRACTION = 3_982 / 23_814
BIG_DRUG_FRACTIONS = (0.030, 0.010, 0.0085, 0.0085, 0.0082, 0.0081, 0.0078, 0.0075)
MULTI_LABEL_EXTRA = 0.14  # share of positives that come from rows with 2+ labels
DRUG_SIZE = 6  # 3 times x 2 doses
TIMES = (24, 48, 72)
DOSES = ("D1", "D2")
KINDS = ("inhibitor", "agonist", "antagonist", "blocker", "activator", "modulator")


def _label_counts(
    rng: np.random.Generator, n_labels: int, total: float, min_count: int = 1
) -> np.ndarray:
    """Heavy-tailed positive counts summing to at most ``total`` (or ``n_labels`` x ``min_count``).

    With ``min_count=1`` every label has a positive and the smallest has exactly one.

    Log-counts follow normal quantiles with a wider lower half (sigma 1.4 below the median,
    1.0 above): at MoA scale this gives a largest label of 700-900 positives, about 15 labels
    with at most 6 positives and about 50 with at most 20, as in the real data (832, 18, 53).
    """
    normal = NormalDist()
    z = np.array([normal.inv_cdf((i + 0.5) / n_labels) for i in range(n_labels)])
    shape = np.exp(np.where(z < 0, 1.4 * z, z) + rng.normal(0.0, 0.1, n_labels))
    lo, hi = 0.0, total + 1.0
    for _ in range(60):  # bisection on the scale: clipping at 1 makes the sum non-linear
        k = (lo + hi) / 2
        lo, hi = (k, hi) if np.maximum(min_count, np.round(k * shape)).sum() < total else (lo, k)
    counts = np.maximum(min_count, np.round(lo * shape)).astype(np.int64)
    if min_count == 1:
        counts[np.argmin(counts)] = 1
    return rng.permutation(counts)


def _allocate_drugs(
    rng: np.random.Generator, counts: np.ndarray, n_treated: int, n_rows: int
) -> list[tuple[int, tuple[int, ...]]]:
    """Split the label counts into drugs: (size, label set), unlabelled drugs last."""
    remaining = counts.copy()
    drugs: list[tuple[int, tuple[int, ...]]] = []
    n_labels = counts.size

    def add(size: int, labels: tuple[int, ...]) -> None:
        size = int(min([size, *remaining[list(labels)]])) if labels else int(size)
        if size >= 1:
            drugs.append((size, labels))
            remaining[list(labels)] -= size

    top = np.argsort(-counts, kind="stable")
    # A few very large drugs on the most frequent labels; the largest carries two labels.
    for i, frac in enumerate(BIG_DRUG_FRACTIONS[: max(1, n_labels // 8)]):
        labels = tuple(int(j) for j in top[:2]) if i == 0 else (int(top[i + 1]),)
        add(max(1, round(frac * n_rows)), labels)
    # A small pool of multi-label sets, reused by several drugs (co-occurring mechanisms).
    weights = np.sqrt(counts) / max(np.sqrt(counts).sum(), 1.0)
    n_positive = int((counts > 0).sum())
    pool = []
    for _ in range(int(0.55 * n_labels) if n_positive > 1 else 0):
        u = rng.random()
        size = min(2 if u < 0.8 else 3 if u < 0.95 else 4, n_positive)
        pool.append(tuple(sorted(rng.choice(n_labels, size, replace=False, p=weights))))
    extra_target = MULTI_LABEL_EXTRA * counts.sum()
    extra, attempts = 0, 0
    while pool and extra < extra_target and attempts < 20 * len(pool):
        attempts += 1
        # index x U(0,1) favours the first sets: a few label sets are shared by many drugs
        labels = tuple(int(j) for j in pool[int(rng.integers(len(pool)) * rng.random())])
        before = len(drugs)
        add(DRUG_SIZE, labels)
        if len(drugs) > before:
            extra += drugs[-1][0] * (len(labels) - 1)
    # Single-label drugs for what is left: mostly 6 rows, the remainder as a smaller drug.
    for j in range(n_labels):
        while remaining[j] > 0:
            add(DRUG_SIZE if rng.random() < 0.9 else 2 * DRUG_SIZE, (j,))
    leftover = n_treated - sum(size for size, _ in drugs)
    while leftover > 0:
        size = min(leftover, DRUG_SIZE)
        drugs.append((size, ()))
        leftover -= size
    return drugs


def _hex_ids(rng: np.random.Generator, n: int, prefix: str = "") -> np.ndarray:
    values = rng.choice(16**9, size=n, replace=False)
    return np.array([f"{prefix}{x:09x}" for x in values])


class _Model:
    """Per-label and per-aux signatures shared by the train and test rows."""

    def __init__(
        self, rng: np.random.Generator, n_labels: int, n_aux: int, n_genes: int, n_cells: int
    ) -> None:
        self.n_genes, self.n_cells = n_genes, n_cells
        n_sig = n_labels + n_aux
        self.gene_sig = np.zeros((n_sig, n_genes), dtype=np.float32)
        for j in range(n_sig):
            m = int(rng.integers(5, 40)) if n_genes > 40 else max(1, n_genes // 4)
            cols = rng.choice(n_genes, size=m, replace=False)
            # Some mechanisms are easy to see, many are faint (as in MoA); auxiliary labels
            # leave a fainter trace still.
            power = min(2.0, rng.lognormal(-0.5, 0.7)) * (1.0 if j < n_labels else 0.5)
            self.gene_sig[j, cols] = power * rng.choice([-1, 1], m) * rng.uniform(0.5, 1.5, m)
        # Cytotoxic mechanisms (about 15%) lower every cell viability together.
        self.cell_shift = np.where(rng.random(n_sig) < 0.15, -rng.uniform(2, 6, n_sig), 0.0)
        self.cell_shift[n_labels:] *= 0.5
        self.gene_factors = rng.normal(0, 0.7, (12, n_genes)).astype(np.float32)
        self.cell_loadings = rng.uniform(0.7, 1.0, n_cells).astype(np.float32)
        self.drug_factors = rng.normal(0, 0.4, (8, n_genes)).astype(np.float32)

    def features(
        self, rng: np.random.Generator, sets: np.ndarray, drug_of: np.ndarray, strength: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Gene and cell matrices for rows of drugs with label/aux indicator rows ``sets``."""
        n = drug_of.size
        drug_genes = (
            sets @ self.gene_sig
            + rng.normal(0, 1, (sets.shape[0], 8)).astype(np.float32) @ self.drug_factors
        )
        drug_cells = sets @ self.cell_shift.astype(np.float32)
        genes = rng.standard_normal((n, 12), dtype=np.float32) @ self.gene_factors
        genes += 0.8 * rng.standard_normal((n, self.n_genes), dtype=np.float32)
        genes += strength[:, None] * drug_genes[drug_of]
        viability = rng.standard_normal(n, dtype=np.float32) + strength * drug_cells[drug_of]
        cells = viability[:, None] * self.cell_loadings
        cells += 0.6 * rng.standard_normal((n, self.n_cells), dtype=np.float32)
        return np.clip(genes, -10, 10), np.clip(cells, -10, 10)


def _simulate(
    rng: np.random.Generator,
    model: _Model,
    n_rows: int,
    n_labels: int,
    n_aux: int,
    aux_active: np.ndarray,
    min_count: int,
) -> dict[str, np.ndarray]:
    """Rows of one split: labels, drugs, cp_* columns and features (rows shuffled)."""
    n_ctl = round(CONTROL_FRACTION * n_rows)
    n_treated = n_rows - n_ctl
    # capped so that labelled rows always fit in the treated rows
    total = min(POSITIVE_RATE * n_rows * n_labels, 0.85 * n_treated)
    counts = _label_counts(rng, n_labels, total, min_count)
    drugs = _allocate_drugs(rng, counts, n_treated, n_rows)
    sizes = np.array([s for s, _ in drugs] + [n_ctl], dtype=np.int64)
    n_drugs = len(drugs)
    sets = np.zeros((n_drugs + 1, n_labels + n_aux), dtype=np.float32)  # last drug: controls
    for d, (_, labels) in enumerate(drugs):
        sets[d, list(labels)] = 1.0
    # Auxiliary targets: each active one is carried by a few random treated drugs.
    aux_counts = _label_counts(rng, n_aux, AUX_POSITIVE_RATE * n_rows * n_aux) if n_aux else []
    for a in np.flatnonzero(aux_active):
        chosen, rows = [], 0
        for d in rng.permutation(n_drugs):
            if rows >= aux_counts[a]:
                break
            chosen.append(d)
            rows += sizes[d]
        sets[chosen, n_labels + a] = 1.0
    drug_of, time_idx, dose_idx, strength = _replicates(rng, sizes, n_rows)
    genes, cells = model.features(rng, sets, drug_of, strength)
    return _split_columns(sets, n_labels, drug_of, time_idx, dose_idx, genes, cells)


def _replicates(
    rng: np.random.Generator, sizes: np.ndarray, n_rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of drugs of ``sizes`` (the last: controls), shuffled: drug, time, dose, strength."""
    n_drugs, n_ctl = sizes.size - 1, int(sizes[-1])
    drug_of = np.repeat(np.arange(n_drugs + 1), sizes)
    within = np.arange(n_rows) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    combo = (within + rng.integers(0, 6, n_drugs + 1)[drug_of]) % 6  # each drug spans 3x2
    combo[drug_of == n_drugs] = rng.integers(0, 6, n_ctl)
    time_idx, dose_idx = combo // 2, combo % 2
    potency = np.exp(rng.normal(0, 0.3, n_drugs + 1))[drug_of]
    strength = potency * np.array([0.6, 1.0])[dose_idx] * np.array([0.8, 1.0, 1.1])[time_idx]
    strength = strength.astype(np.float32)
    strength[drug_of == n_drugs] = 0.0  # controls carry no drug effect
    perm = rng.permutation(n_rows)  # shuffle rows before the big matrices are made
    drug_of, time_idx, dose_idx, strength = (
        a[perm] for a in (drug_of, time_idx, dose_idx, strength)
    )
    return drug_of, time_idx, dose_idx, strength


def _simulate_nonlinear(
    rng: np.random.Generator,
    model: LatentModel,
    n_rows: int,
    n_aux: int,
    aux_active: np.ndarray,
    calibrate: bool,
) -> dict[str, np.ndarray]:
    """Rows of one split of the ``nonlinear`` mode (see :mod:`automoa.data.synthetic_nonlinear`).

    With ``calibrate`` (the training split) the label thresholds are set on this split's drugs
    so that the expected positive rows follow MoA's heavy-tailed label counts.
    """
    n_labels = model.n_labels
    n_ctl = round(CONTROL_FRACTION * n_rows)
    n_treated = n_rows - n_ctl
    sizes = drug_sizes(rng, n_treated, BIG_DRUG_FRACTIONS[: max(1, n_labels // 8)], n_rows)
    n_drugs = sizes.size
    z = model.states(rng, n_drugs)
    counts = aux_counts = None
    if calibrate:
        total = min(POSITIVE_RATE * n_rows * n_labels, 0.85 * n_treated)
        counts = _label_counts(rng, n_labels, total).astype(float)
        if n_aux:
            aux_total = AUX_POSITIVE_RATE * n_rows * n_aux
            aux_counts = _label_counts(rng, n_aux, aux_total)[aux_active].astype(float)
    sets, text = model.draw_labels(rng, z, sizes, aux_active, counts, aux_counts)
    # the controls: one more "drug" with no labels and no drug effect
    sets = np.vstack([sets, np.zeros((1, sets.shape[1]), dtype=bool)])
    text = np.vstack([text, np.full((1, n_labels), "0")])
    all_sizes = np.append(sizes, n_ctl)
    drug_of, time_idx, dose_idx, strength = _replicates(rng, all_sizes, n_rows)
    states = np.vstack([z, np.zeros((1, z.shape[1]))])
    genes, cells = model.features(rng, states, drug_of, strength)
    return _split_columns(sets, n_labels, drug_of, time_idx, dose_idx, genes, cells, text)


def _split_columns(
    sets: np.ndarray,
    n_labels: int,
    drug_of: np.ndarray,
    time_idx: np.ndarray,
    dose_idx: np.ndarray,
    genes: np.ndarray,
    cells: np.ndarray,
    text: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The columns of one split from its drugs' label sets (the last drug: controls).

    ``text`` (the ``nonlinear`` mode's per-drug label texts) adds a ``P`` column after
    ``Y_aux``.
    """
    n_drugs = len(sets) - 1
    columns = {
        "Y": sets[drug_of, :n_labels].astype(np.uint8),
        "Y_aux": sets[drug_of, n_labels:].astype(np.uint8),
    }
    if text is not None:
        columns["P"] = text[drug_of]
    return columns | {
        "drug": drug_of,
        "control": drug_of == n_drugs,
        "time": np.array(TIMES)[time_idx],
        "dose": np.array(DOSES)[dose_idx],
        "genes": genes,
        "cells": cells,
        "n_drugs": np.array(n_drugs + 1),
    }


def _csv_chunk(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return sink.getvalue().to_pybytes()


def _write_csv(path: Path, names: list[str], columns: list[np.ndarray]) -> None:
    """Plain, unquoted CSV (as the Kaggle files are), written by pyarrow for speed.

    pyarrow formats one table on one thread; formatting row chunks in parallel threads (pyarrow
    releases the GIL) and writing them in order makes the 24k-row MoA file about twice as fast.
    """
    table = pa.Table.from_arrays(
        [pa.array(c) for c in columns], names=[str(i) for i in range(len(names))]
    )
    n_chunks = max(1, min(os.cpu_count() or 1, table.num_rows // 2000))
    bounds = np.linspace(0, table.num_rows, n_chunks + 1).astype(int)
    chunks = [table.slice(a, b - a) for a, b in pairwise(bounds)]
    with path.open("wb") as fh, ThreadPoolExecutor(n_chunks) as pool:
        fh.write((",".join(names) + "\n").encode())
        for data in pool.map(_csv_chunk, chunks):
            fh.write(data)


def _names(prefix: str, n: int) -> list[str]:
    width = max(3, len(str(n - 1)))
    return [f"{prefix}_{i:0{width}d}_{KINDS[i % len(KINDS)]}" for i in range(n)]


#: The ``nonlinear`` mode's true probabilities (``sig_id`` + scored targets); no loader reads them.
TRUE_PROBABILITY_FILES = ("true_probabilities_train.csv", "true_probabilities_test.csv")
LAYOUT_FILES = frozenset(
    (
        *(
            f"{name}.csv"
            for name in (
                "train_features",
                "train_targets_scored",
                "train_targets_nonscored",
                "train_drug",
                "test_features",
                "sample_submission",
            )
        ),
        *TRUE_PROBABILITY_FILES,
    )
)
#: How labels depend on the features: ``linear`` (a per-label signature: logistic regression is
#: near-optimal) or ``nonlinear`` (functions of a latent drug state, true probabilities written).
MODES = ("linear", "nonlinear")


def make_moa_like(
    out_dir: str | Path,
    *,
    rows: int = 2000,
    targets: int = 206,
    n_genes: int = 772,
    n_cells: int = 100,
    n_nonscored: int = 402,
    seed: int = 0,
    test_rows: int | None = None,
    mode: str = "linear",
) -> Path:
    """Write a synthetic data set in the full Kaggle MoA layout.

    Writes ``train_features.csv``, ``train_targets_scored.csv``, ``train_targets_nonscored.csv``,
    ``train_drug.csv``, ``test_features.csv`` and ``sample_submission.csv`` with the statistics of
    the real data: about 7.8% ``ctl_vehicle`` rows (all labels 0), drugs of mostly 6 rows and a few
    large ones, one label set per drug, heavy-tailed label counts (one label with a single
    positive, positive rate about 0.34% at full scale), some never-positive auxiliary targets.

    Two modes. ``linear``: each label adds a sparse signature to the genes, so a per-label
    logistic regression is near-optimal. ``nonlinear``: each label is a nonlinear function (soft
    ANDs of thresholds, sign interactions, magnitudes, a hidden-unit teacher) of a latent drug
    state that the features see noisily (:mod:`automoa.data.synthetic_nonlinear`); labels are
    drawn once per drug from their true probabilities, which are written to
    ``true_probabilities_train.csv`` and ``true_probabilities_test.csv`` (``sig_id`` + scored
    targets; no automoa loader reads them) so that a benchmark can report the Bayes log loss.

    Args:
        out_dir: directory to write (created if needed); it must not hold MoA files already.
        rows: training rows (the real data has 23,814).
        targets: scored targets.
        n_genes: ``g-*`` columns.
        n_cells: ``c-*`` columns.
        n_nonscored: auxiliary targets (0: no ``train_targets_nonscored.csv``).
        seed: random seed; the same arguments always write the same bytes.
        test_rows: test rows; default ``rows`` x 3,982/23,814.
        mode: ``linear`` or ``nonlinear`` (see above).

    Returns:
        ``out_dir`` as a :class:`~pathlib.Path`.

    Raises:
        ConfigError: if the sizes are impossible (e.g. more targets than treated rows), the
            mode is unknown, or ``out_dir`` already holds files of the layout (nothing is
            overwritten).
    """
    if mode not in MODES:
        raise ConfigError(f"make_moa_like: mode must be one of {', '.join(MODES)} (got {mode!r})")
    test_rows = max(1, round(rows * TEST_FRACTION)) if test_rows is None else test_rows
    if rows < 20 or test_rows < 1 or targets < 1 or n_genes < 1 or n_cells < 1 or n_nonscored < 0:
        raise ConfigError(
            f"make_moa_like: expected rows >= 20, test_rows >= 1 and targets, n_genes, n_cells >= 1"
            f" (got rows={rows}, test_rows={test_rows}, targets={targets}, n_genes={n_genes}, "
            f"n_cells={n_cells}, n_nonscored={n_nonscored})"
        )
    if targets > 0.85 * (rows - round(CONTROL_FRACTION * rows)):
        raise ConfigError(f"make_moa_like: {targets} targets need more than {rows} rows")
    check_seed(seed, "make_moa_like: seed")
    check_directory_path(out_dir, "make_moa_like: out_dir")
    existing = sorted(p.name for p in Path(out_dir).glob("*") if p.name in LAYOUT_FILES)
    if existing:
        raise ConfigError(
            f"make_moa_like: {out_dir} already holds {', '.join(existing)}; "
            "choose an empty or new directory (nothing was overwritten)"
        )
    rng = np.random.default_rng(seed)
    if mode == "linear":
        model = _Model(rng, targets, n_nonscored, n_genes, n_cells)
        aux_active = rng.random(n_nonscored) >= AUX_NEVER_POSITIVE
        train = _simulate(rng, model, rows, targets, n_nonscored, aux_active, min_count=1)
        # test labels are never written, so a small test split may leave labels without positives
        test = _simulate(rng, model, test_rows, targets, n_nonscored, aux_active, min_count=0)
    else:
        latent = LatentModel(rng, targets, n_nonscored, n_genes, n_cells)
        aux_active = rng.random(n_nonscored) >= AUX_NEVER_POSITIVE
        train = _simulate_nonlinear(rng, latent, rows, n_nonscored, aux_active, calibrate=True)
        test = _simulate_nonlinear(rng, latent, test_rows, n_nonscored, aux_active, False)
    ids = _hex_ids(rng, rows + test_rows, "id_")
    drug_ids = _hex_ids(rng, int(train["n_drugs"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gene_names = [f"g-{i}" for i in range(n_genes)]
    cell_names = [f"c-{i}" for i in range(n_cells)]
    feature_names = ["sig_id", "cp_type", "cp_time", "cp_dose", *gene_names, *cell_names]
    target_names, aux_names = _names("moa", targets), _names("aux", n_nonscored)
    for split, split_ids, file in ((train, ids[:rows], "train"), (test, ids[rows:], "test")):
        cp_type = np.where(split["control"], "ctl_vehicle", "trt_cp")
        # 4 decimals as in the Kaggle files; float32 keeps the formatting short and fast
        numeric = np.asfortranarray(np.round(np.hstack([split["genes"], split["cells"]]), 4))
        columns = [split_ids, cp_type, split["time"], split["dose"], *numeric.T]
        _write_csv(out / f"{file}_features.csv", feature_names, columns)
    _write_csv(
        out / "train_targets_scored.csv", ["sig_id", *target_names], [ids[:rows], *train["Y"].T]
    )
    if n_nonscored:
        _write_csv(
            out / "train_targets_nonscored.csv",
            ["sig_id", *aux_names],
            [ids[:rows], *train["Y_aux"].T],
        )
    _write_csv(out / "train_drug.csv", ["sig_id", "drug_id"], [ids[:rows], drug_ids[train["drug"]]])
    if mode == "nonlinear":
        for split, split_ids, name in zip(
            (train, test), (ids[:rows], ids[rows:]), TRUE_PROBABILITY_FILES, strict=True
        ):
            _write_csv(out / name, ["sig_id", *target_names], [split_ids, *split["P"].T])
    half = np.full(test_rows, 0.5)
    _write_csv(
        out / "sample_submission.csv", ["sig_id", *target_names], [ids[rows:], *([half] * targets)]
    )
    return out
