"""Controller overhead per trial: sampling, storage writes and artifact uploads.

Runs searches whose only family is the near-free ``prior`` model, so that almost all the time is
the controller's, and reports (wall time of the loop - time spent inside fold fits) / trials.
Target: under 0.2 s per trial on SQLite.

Usage: python benchmarks/controller_overhead.py [--trials 300] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import optuna

from automoa.data import load, make_moa_like
from automoa.search.controller import run_search
from automoa.search.record import TrialRecord
from automoa.search.settings import SearchSettings
from automoa.search.study import resolve_location
from automoa.spaces import load_space

PRIOR_SPACE = """\
name: overhead
description: prior only, so that trial time is controller time
preprocessing:
  - step: standardize
    optional: true
models:
  prior:
    params:
      smoothing: {type: float, low: 0.0, high: 2.0}
"""


def measure(dataset, trials: int, workdir: Path) -> dict[str, float]:
    """Run ``trials`` prior trials on a fresh SQLite study; returns timing figures."""
    workdir.mkdir(parents=True, exist_ok=True)
    space_path = workdir / "overhead.yaml"
    space_path.write_text(PRIOR_SPACE)
    marks: dict[str, float] = {}
    location = resolve_location("overhead", workdir)
    run_search(
        dataset,
        location,
        load_space(space_path),
        SearchSettings(
            budget_seconds=3600,
            max_trials=trials,
            on_start=lambda meta, n: marks.setdefault("start", time.perf_counter()),
        ),
    )
    end = time.perf_counter()
    study = optuna.load_study(study_name="overhead", storage=location.storage)
    fit_seconds = sum(TrialRecord.read(t).fit_seconds or 0.0 for t in study.trials)
    loop_seconds = end - marks["start"]
    return {
        "trials": len(study.trials),
        "loop_seconds": loop_seconds,
        "fit_seconds": fit_seconds,
        "overhead_per_trial": (loop_seconds - fit_seconds) / len(study.trials),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        moa_dir = make_moa_like(tmp_path / "moa2k", rows=2000, targets=206, seed=0)
        for name, dataset in [
            ("yeast (1500 x 103, 14 labels)", load("bundled:yeast")),
            ("moa-like (2000 x 875, 206 labels)", load(moa_dir)),
        ]:
            figures = measure(dataset, args.trials, tmp_path / name.split()[0])
            rows.append((name, figures))
            print(
                f"{name}: {figures['overhead_per_trial'] * 1000:.0f} ms/trial "
                f"over {figures['trials']} trials"
            )
    lines = [
        "# Controller overhead per trial (SQLite)",
        "",
        f"Machine: {platform.machine()}, {platform.processor() or 'cpu'}, 2 cores; "
        f"Python {platform.python_version()}, optuna {optuna.__version__}.",
        "Command: `python benchmarks/controller_overhead.py` (`make bench`).",
        "Overhead = (wall time of the search loop - time inside fold fits) / trials, with the",
        "`prior` family only (5 folds, sampling + SQLite writes + OOF/test artifact uploads).",
        "",
        "| data | trials | loop s | fit s | overhead per trial |",
        "|---|---|---|---|---|",
    ]
    for name, f in rows:
        lines.append(
            f"| {name} | {f['trials']} | {f['loop_seconds']:.1f} | {f['fit_seconds']:.1f} "
            f"| {f['overhead_per_trial'] * 1000:.0f} ms |"
        )
    lines += ["", "Target: under 200 ms per trial."]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "controller_overhead.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
