"""Ensemble selection at MoA scale: time and memory of ``select`` and ``honest_score``.

Generates N OOF-like candidates (default 300 of 24000 x 206 float32, 5.9 GB) as .npy files: a
shared latent signal per cell drives the labels (~0.34% positives, ~7.8% control rows with all
labels 0) and every candidate sees it with its own strength, bias and logit noise. The
candidates are loaded with ``mmap_mode='r'``, then ``select`` (greedy, 50 iterations) and
``honest_score`` (5 folds) are timed; peak RSS is reported both as ``ru_maxrss`` (which counts
the touched pages of the mapped files) and as the sampled peak of anonymous memory.

Then the later stages are timed on the same candidates: nested calibration and stacking, each
with its final fit, and nested clipping. Each stage runs for every candidate count given
(default 50, 150, 300).

Usage: python benchmarks/ensemble_selection.py [--candidates 50 150 300] [--rows 24000]
    [--labels 206] [--iterations 50] [--folds 5] [--jobs 1] [--workdir DIR]
    [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from automoa.ensemble import honest_evaluation, select
from automoa.ensemble.clipping import honest_clip
from automoa.ensemble.stacking import fit_stacker, honest_stacking

NOTE = """
The synthetic candidates are calibrated by construction (each sees the true signal through its
own noise), so per-label calibration and stacking have nothing to correct and their nested
estimates come out worse than greedy selection: the ensemble step would keep neither, which is
the point of gating every stage on the honest estimate. Their cost is what this table is for.
Selection screens every candidate each iteration (positives exactly, one row chunk in eight of
the negatives) and scores a shortlist of 16 exactly (`shortlist=0`, exact scoring of every
candidate, took 63.4 s for `select` and 309 s for the honest estimate at 300 candidates).
"""
POSITIVE_RATE = 0.0034
CONTROL_FRACTION = 0.078
SIGNAL = 1.5


class AnonPeak:
    """Samples RssAnon from /proc/self/status in a thread; ``peak_mib`` is the highest seen."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    self.peak_mib = max(self.peak_mib, int(line.split()[1]) / 1024)
        except OSError:  # not Linux: the column stays 0
            pass

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> AnonPeak:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def max_rss_mib() -> float:
    """Peak resident set size of this process so far (ru_maxrss is KiB on Linux)."""
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def generate(
    workdir: Path, candidates: int, rows: int, labels: int, seed: int
) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """Write the candidates as .npy files; returns (paths, Y, known-negative mask)."""
    rng = np.random.default_rng(seed)
    # Per-label rates: lognormal, scaled so that the mean over all rows (controls included) is
    # about POSITIVE_RATE; the intercept is lowered so that the latent signal (which raises
    # the mean of a sigmoid at low rates) does not inflate it.
    rates = np.clip(rng.lognormal(np.log(POSITIVE_RATE) - 0.5, 1.0, labels), 1e-4, 0.05)
    rates *= POSITIVE_RATE / (1 - CONTROL_FRACTION) / rates.mean()
    intercept = (np.log(rates / (1 - rates)) - 0.475 * SIGNAL**2).astype(np.float32)
    z = rng.standard_normal((rows, labels), dtype=np.float32)
    truth = 1.0 / (1.0 + np.exp(-(intercept + SIGNAL * z)))
    Y = (rng.random((rows, labels), dtype=np.float32) < truth).astype(np.uint8)
    known_negative = rng.random(rows) < CONTROL_FRACTION
    Y[known_negative] = 0
    del truth
    paths = []
    logit = np.empty((rows, labels), dtype=np.float32)
    for i in range(candidates):
        strength, noise, bias = rng.uniform(0.3, 1.0), rng.uniform(0.5, 1.5), rng.normal(0, 0.3)
        rng.standard_normal(out=logit, dtype=np.float32)
        logit *= -noise
        logit -= intercept + bias
        logit -= (strength * SIGNAL) * z
        np.exp(logit, out=logit)  # exp(-x): the sigmoid below is 1 / (1 + exp(-x))
        logit += 1.0
        np.reciprocal(logit, out=logit)
        logit[known_negative] = 0.0  # controls are predicted 0, as the objective does
        paths.append(workdir / f"oof_{i:04d}.npy")
        np.save(paths[-1], logit)
    return paths, Y, known_negative


def _row(
    label: str, seconds: float, rss: float, anon: float, score: float | None, note: str = ""
) -> str:
    shown = "" if score is None else f"{score:.6f}"
    return f"| {label} | {seconds:.1f} | {rss:,.0f} | {anon:,.0f} | {shown} | {note} |"


def run_count(oofs, Y, kn, fold_of, args, count: int) -> tuple[list[str], str]:
    """Every stage of the ensemble step on the ``count`` first candidates."""
    subset = oofs[:count]
    rows = []
    with AnonPeak() as peak:
        t0 = time.perf_counter()
        ens = select(subset, Y, max_iterations=args.iterations, known_negative=kn, n_jobs=args.jobs)
        seconds = time.perf_counter() - t0
    note = f"{len(ens.members)} members, best single {ens.trajectory[0]:.6f}"
    rows.append(_row(f"{count}: select", seconds, max_rss_mib(), peak.peak_mib, ens.score, note))
    print(rows[-1], flush=True)
    with AnonPeak() as peak:
        t0 = time.perf_counter()
        honest = honest_evaluation(
            subset, Y, fold_of, max_iterations=args.iterations, known_negative=kn, n_jobs=args.jobs
        )
        seconds = time.perf_counter() - t0
    rows.append(
        _row(f"{count}: honest selection", seconds, max_rss_mib(), peak.peak_mib, honest.score)
    )
    print(rows[-1], flush=True)
    best_score, best_oof = honest.score, honest.oof
    for name, features in (("calibration", "blend"), ("stacking", "members")):
        with AnonPeak() as peak:
            t0 = time.perf_counter()
            nested = honest_stacking(
                subset,
                Y,
                fold_of,
                honest.ensembles,
                honest.folds,
                known_negative=kn,
                features=features,
            )
            fit_stacker(
                [subset[i] for i in ens.members],
                Y,
                ens.weights,
                known_negative=kn,
                features=features,
            )
            seconds = time.perf_counter() - t0
        beats = "beats greedy" if nested.score < honest.score else "worse than greedy"
        rows.append(
            _row(
                f"{count}: {name} (nested + final fit)",
                seconds,
                max_rss_mib(),
                peak.peak_mib,
                nested.score,
                beats,
            )
        )
        print(rows[-1], flush=True)
        if nested.score < best_score:
            best_score, best_oof = nested.score, nested.oof
    with AnonPeak() as peak:
        t0 = time.perf_counter()
        clip = honest_clip(best_oof, Y, fold_of, known_negative=kn)
        seconds = time.perf_counter() - t0
    kept = "kept" if clip.score < best_score and not clip.clip.is_identity else "not kept"
    rows.append(
        _row(
            f"{count}: clipping (nested)",
            seconds,
            max_rss_mib(),
            peak.peak_mib,
            clip.score,
            f"{kept}, bounds [{clip.clip.low:g}, 1 - {clip.clip.high:g}]",
        )
    )
    print(rows[-1], flush=True)
    summary = (
        f"{count} candidates: ensemble of {len(ens.members)} members (best single "
        f"{ens.trajectory[0]:.6f}), hill-climbing {ens.score:.6f}, honest {honest.score:.6f}."
    )
    return rows, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--labels", type=int, default=206)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="threads evaluating candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the .npy files go")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    counts = sorted(args.candidates)

    rows, summaries = [], []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t0 = time.perf_counter()
        paths, Y, kn = generate(Path(tmp), counts[-1], args.rows, args.labels, args.seed)
        gen_seconds = time.perf_counter() - t0
        print(f"generated {len(paths)} candidates in {gen_seconds:.1f} s", flush=True)
        oofs = [np.load(p, mmap_mode="r") for p in paths]
        fold_of = np.random.default_rng(args.seed).permutation(args.rows) % args.folds
        for count in counts:
            count_rows, summary = run_count(oofs, Y, kn, fold_of, args, count)
            rows.extend(count_rows)
            summaries.append(summary)

    candidate_mib = args.rows * args.labels * 4 / 2**20
    lines = [
        "# Ensemble step: time and memory",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; "
        f"Python {platform.python_version()}, numpy {np.__version__}; {args.jobs} thread(s).",
        f"Command: `python benchmarks/ensemble_selection.py --candidates "
        f"{' '.join(map(str, counts))} --rows {args.rows} --labels {args.labels} "
        f"--iterations {args.iterations} --folds {args.folds} --jobs {args.jobs}`.",
        f"Data: synthetic OOF candidates of {args.rows} x {args.labels} float32 "
        f"({candidate_mib:.1f} MiB each, {counts[-1] * candidate_mib / 1024:.2f} GiB for "
        f"{counts[-1]}) as .npy files loaded with mmap_mode='r'; {Y.mean():.3%} positive labels, "
        f"{kn.mean():.1%} known-negative rows; generated in {gen_seconds:.0f} s. Each count uses "
        "the first candidates of the same set.",
        "Peak RSS: `ru_maxrss` so far (counts the touched pages of the mapped files, which the "
        "kernel can drop; it only grows); peak anon: highest sampled RssAnon during the phase "
        "(the process's own memory).",
        "",
        "| candidates: phase | seconds | peak RSS MiB | peak anon MiB | score | note |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        *[f"- {s}" for s in summaries],
        "",
        *NOTE.strip().splitlines(),
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensemble_selection.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
