"""Does per-label undersampling of negatives help the ``linear`` family? Held out, side by side.

For each dataset's held-out split (the benchmark's: the official test rows, else outer fold 0
of 5, drug-aware), the ``linear`` family (per-label penalty path, seed 0) is fitted on the
training rows with each ``negative_rate`` (1 = every row), and scored on the held-out rows by
mean column-wise log loss. The table gives each rate's loss, its ratio to rate 1, and the fit's
seconds. Rates under 1 fit each label on all its positives and that share of its negatives,
drawn per label, with the intercepts corrected for the share (``automoa/models/linear.py``).

    python benchmarks/negative_undersampling.py --datasets yeast,emotions,scene,moa-like-2k \\
        --rates 1,0.5,0.2,0.1 --out benchmarks/results/negative_undersampling.md
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from automoa.benchmark.tasks import benchmark_tasks, default_datasets_dir
from automoa.metrics import columnwise_log_loss
from automoa.models import get_family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="yeast,emotions,scene,moa-like-2k")
    parser.add_argument("--rates", default="1,0.5,0.2,0.1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    cache = Path(tempfile.gettempdir()) / "automoa-bench"
    lines = [
        "# Per-label undersampling of negatives in the `linear` family (issue 18)",
        "",
        f"Machine: {platform.machine()}, Python {platform.python_version()}, CPU. Command: "
        f"`python benchmarks/negative_undersampling.py --datasets {args.datasets} "
        f"--rates {args.rates} --out {args.out}`.",
        "",
        "Held-out mean column-wise log loss (ratio to rate 1), and the fit's seconds.",
        "",
        "| dataset | rows x features x labels | " + " | ".join(f"rate {r:g}" for r in rates) + " |",
        "|---|---|" + "---|" * len(rates),
    ]
    for name in args.datasets.split(","):
        task = next(benchmark_tasks(name, datasets_dir=default_datasets_dir(), cache_dir=cache))
        data = task.train
        cells, base = [], None
        for rate in rates:
            started = time.perf_counter()
            fitted = get_family("linear")(negative_rate=rate).fit(
                data.X, data.Y, seed=0, groups=data.groups
            )
            seconds = time.perf_counter() - started
            proba = fitted.predict_proba(data.X_test)
            if data.test_known_negative is not None:  # control rows, as the benchmark scores them
                proba[data.test_known_negative] = 0.0
            loss = float(columnwise_log_loss(task.Y_test, proba).mean())
            base = loss if base is None else base
            cells.append(f"{loss:.5f} ({loss / base:.3f}), {seconds:.1f} s")
            print(name, rate, f"{loss:.5f}", f"{seconds:.1f} s", flush=True)
        shape = f"{len(data.X)} x {data.X.shape[1]} x {data.Y.shape[1]}"
        lines.append(f"| {name} | {shape} | " + " | ".join(cells) + " |")
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
