"""The ensemble step at MoA scale: time, memory and choices of the ensemble pipeline.

Generates N OOF-like candidates (default 300 of 24000 x 206 float32, 5.9 GB) as .npy files: a
shared latent signal per cell drives the labels (~0.34% positives, ~7.8% control rows with all
labels 0) and every candidate sees it with its own strength, bias and logit noise. The
candidates are loaded with ``mmap_mode='r'`` and given synthetic groups (4 families x 5
preprocessing chains); then :func:`automoa.ensemble.pipeline.run_pipeline` runs with no time
limit, and each stage's seconds (and the seconds it predicted before running), honest estimate
and verdict are tabulated. Peak RSS is reported both as ``ru_maxrss`` (which counts the
touched pages of the mapped files) and as the sampled peak of anonymous memory. The pipeline
runs for every candidate count given (default 50, 150, 300).

Usage: python benchmarks/ensemble_selection.py [--candidates 50 150 300] [--rows 24000]
    [--labels 206] [--iterations 50] [--folds 5] [--jobs 1] [--workdir DIR]
    [--out benchmarks/results] [--config 'shortlist=16,top_pool=300' 'shortlist=4' ...]

Each ``--config`` is a set of :class:`PipelineOptions` values run on the same candidates, so
that settings are compared side by side in one run.
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
from ensemble_settings import parse_config  # run as a script: benchmarks/ is on the path

from automoa.ensemble.pipeline import PipelineOptions, run_pipeline
from automoa.metrics import mean_columnwise_log_loss

NOTE = """
The synthetic candidates are calibrated by construction (each sees the true signal through its
own noise), so the level-2 stages have little to correct: the table is mainly about cost.
`greedy_top` is greedy selection over the best candidates by CV score (`top_pool`, 50 by
default; `greedy_all` in earlier tables was the same over every candidate); the other variants
work on the diverse pool (the best 3 per group, at most 24).
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
    label: str,
    seconds: float,
    predicted: float | None,
    score: float | None,
    kept: bool,
    note: str = "",
) -> str:
    shown = "" if score is None else f"{score:.6f}"
    guess = "" if predicted is None else f"{predicted:.1f}"
    return f"| {label} | {seconds:.1f} | {guess} | {shown} | {'yes' if kept else 'no'} | {note} |"


def run_count(
    oofs, Y, kn, fold_of, scores, args, count: int, config: str = ""
) -> tuple[list[str], str]:
    """The ensemble pipeline on the ``count`` first candidates (ordered best first)."""
    order = np.argsort(scores[:count], kind="stable")
    subset = [oofs[i] for i in order]
    # Synthetic trial groups (family x preprocessing chain): 4 families, 5 chains.
    groups = [f"family{i % 4}|chain{(i // 4) % 5}" for i in order]
    options = PipelineOptions(
        max_iterations=args.iterations, n_jobs=args.jobs, **parse_config(config)
    )
    label = f"{count} {config}".strip() if config else str(count)
    with AnonPeak() as peak:
        t0 = time.perf_counter()
        result = run_pipeline(
            subset,
            Y,
            fold_of,
            scores=scores[order],
            groups=groups,
            known_negative=kn,
            options=options,
        )
        total = time.perf_counter() - t0
    rows = [
        _row(
            f"{label}: {s.kind} {s.stage}",
            s.seconds,
            s.predicted_seconds,
            s.honest_score,
            s.kept,
            s.note,
        )
        for s in result.stages
    ]
    for row in rows:
        print(row, flush=True)
    top = sum(s.seconds for s in result.stages if s.stage == "greedy_top")
    selection = sum(s.seconds for s in result.stages if s.kind == "selection")
    summary = (
        f"{label} candidates: {total:.1f} s in all, **{selection:.1f} s for the selection "
        f"variants and their honest estimates** ({top:.1f} s of it greedy_top); "
        f"peak RSS {max_rss_mib():,.0f} MiB, peak anon {peak.peak_mib:,.0f} MiB; kept "
        f"{result.selection} + {result.method}, {len(result.ensemble.members)} members, honest "
        f"{result.honest_score:.6f} (best single CV {result.best_single:.6f}"
        f"{', floor applied' if result.floor else ''})."
    )
    print(summary, flush=True)
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
    parser.add_argument(
        "--config",
        nargs="+",
        default=[""],
        help="pipeline option sets compared on the same candidates, each 'key=value,...' "
        "(e.g. 'shortlist=16,init_best=3,top_pool=300'); '' is the defaults",
    )
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
        # Each candidate's CV score, as its trial would report it (not timed: the study has it).
        scores = np.array([mean_columnwise_log_loss(Y, o) for o in oofs])
        for count in counts:
            for config in args.config:
                count_rows, summary = run_count(oofs, Y, kn, fold_of, scores, args, count, config)
                rows.extend(count_rows)
                summaries.append(summary)

    candidate_mib = args.rows * args.labels * 4 / 2**20
    configs = "" if args.config == [""] else " --config " + " ".join(f"'{c}'" for c in args.config)
    lines = [
        "# Ensemble step: time and memory",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}; "
        f"Python {platform.python_version()}, numpy {np.__version__}; {args.jobs} thread(s).",
        f"Command: `python benchmarks/ensemble_selection.py --candidates "
        f"{' '.join(map(str, counts))} --rows {args.rows} --labels {args.labels} "
        f"--iterations {args.iterations} --folds {args.folds} --jobs {args.jobs}{configs}`.",
        f"Data: synthetic OOF candidates of {args.rows} x {args.labels} float32 "
        f"({candidate_mib:.1f} MiB each, {counts[-1] * candidate_mib / 1024:.2f} GiB for "
        f"{counts[-1]}) as .npy files loaded with mmap_mode='r'; {Y.mean():.3%} positive labels, "
        f"{kn.mean():.1%} known-negative rows; generated in {gen_seconds:.0f} s. Each count uses "
        "the first candidates of the same set.",
        "Peak RSS: `ru_maxrss` so far (counts the touched pages of the mapped files, which the "
        "kernel can drop; it only grows); peak anon: highest sampled RssAnon during the phase "
        "(the process's own memory).",
        "",
        "| candidates: stage | seconds | predicted s | honest score | kept | note |",
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
