"""Ensemble selection at MoA scale: time and memory of ``select`` and ``honest_score``.

Generates N OOF-like candidates (default 300 of 24000 x 206 float32, 5.9 GB) as .npy files: a
shared latent signal per cell drives the labels (~0.34% positives, ~7.8% control rows with all
labels 0) and every candidate sees it with its own strength, bias and logit noise. The
candidates are loaded with ``mmap_mode='r'``, then ``select`` (greedy, 50 iterations) and
``honest_score`` (5 folds) are timed; peak RSS is reported both as ``ru_maxrss`` (which counts
the touched pages of the mapped files) and as the sampled peak of anonymous memory.

Usage: python benchmarks/ensemble_selection.py [--candidates 300] [--rows 24000] [--labels 206]
    [--iterations 50] [--folds 5] [--jobs 1] [--workdir DIR] [--out benchmarks/results]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--rows", type=int, default=24000)
    parser.add_argument("--labels", type=int, default=206)
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="threads evaluating candidates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workdir", type=Path, default=None, help="where the .npy files go")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        t0 = time.perf_counter()
        paths, Y, kn = generate(Path(tmp), args.candidates, args.rows, args.labels, args.seed)
        gen_seconds = time.perf_counter() - t0
        print(f"generated {len(paths)} candidates in {gen_seconds:.1f} s")
        oofs = [np.load(p, mmap_mode="r") for p in paths]
        fold_of = np.random.default_rng(args.seed).permutation(args.rows) % args.folds
        evaluations = args.candidates * args.iterations

        with AnonPeak() as anon_select:
            t0 = time.perf_counter()
            ens = select(
                oofs, Y, max_iterations=args.iterations, known_negative=kn, n_jobs=args.jobs
            )
            select_seconds = time.perf_counter() - t0
        rss_select = max_rss_mib()
        print(f"select: {select_seconds:.1f} s, {len(ens.members)} members, {ens.score:.6f}")

        with AnonPeak() as anon_honest:
            t0 = time.perf_counter()
            honest = honest_evaluation(
                oofs,
                Y,
                fold_of,
                max_iterations=args.iterations,
                known_negative=kn,
                n_jobs=args.jobs,
            )
            honest_seconds = time.perf_counter() - t0
        rss_honest = max_rss_mib()
        print(f"honest_score: {honest_seconds:.1f} s, {honest.score:.6f}")

    candidate_mib = args.rows * args.labels * 4 / 2**20
    lines = [
        "# Ensemble selection: time and memory",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; "
        f"Python {platform.python_version()}, numpy {np.__version__}; {args.jobs} thread(s).",
        f"Command: `python benchmarks/ensemble_selection.py --candidates {args.candidates} "
        f"--rows {args.rows} --labels {args.labels} --iterations {args.iterations} "
        f"--folds {args.folds} --jobs {args.jobs}`.",
        f"Data: {args.candidates} synthetic OOF candidates of {args.rows} x {args.labels} float32 "
        f"({candidate_mib:.1f} MiB each, {args.candidates * candidate_mib / 1024:.2f} GiB in "
        f"all) as .npy files loaded with mmap_mode='r'; {Y.mean():.3%} positive labels, "
        f"{kn.mean():.1%} known-negative rows; generated in {gen_seconds:.0f} s.",
        "Peak RSS: `ru_maxrss` after the phase (counts the touched pages of the mapped files, "
        "which the kernel can drop); peak anon: highest sampled RssAnon during the phase "
        "(the process's own memory).",
        "",
        "| phase | seconds | candidate evaluations | ms per evaluation | peak RSS MiB "
        "| peak anon MiB | score |",
        "|---|---|---|---|---|---|---|",
        f"| select ({args.iterations} iterations) | {select_seconds:.1f} | {evaluations:,} "
        f"| {select_seconds / evaluations * 1000:.2f} | {rss_select:,.0f} "
        f"| {anon_select.peak_mib:,.0f} | {ens.score:.6f} |",
        f"| honest_score ({args.folds} folds) | {honest_seconds:.1f} "
        f"| {evaluations * args.folds:,} "
        f"| {honest_seconds / (evaluations * args.folds) * 1000:.2f} | {rss_honest:,.0f} "
        f"| {anon_honest.peak_mib:,.0f} | {honest.score:.6f} |",
        "",
        f"Best single candidate {ens.trajectory[0]:.6f}; ensemble of {len(ens.members)} "
        f"distinct members, largest weight {max(ens.weights):.3f}; kept "
        f"{int(np.argmin(ens.trajectory)) + 1} of {args.iterations} iterations. "
        f"Honest (out-of-fold) score {honest.score:.6f} vs hill-climbing {ens.score:.6f}.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensemble_selection.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
