"""Does a resampler help? 5-minute searches with each one forced, side by side, held out.

For every variant the shipped ``default`` space is rewritten with its optional resamplers
(``oversample``, ``mlsmote``) removed and, unless the variant is ``none``, one resampler made
mandatory in every trial: MLSMOTE, or imbalanced-learn's samplers on label sets (LP-ROS
``lp_oversample``, SMOTE ``lp_smote``, LP-RUS ``lp_undersample``). Each variant then runs
``automoa benchmark`` (held-out rows, same outer fold and seed for all) into its own directory,
and the table compares the held-out mean column-wise log loss, with each variant's ratio to
``none``.

    python benchmarks/resamplers.py --datasets yeast,emotions --budget 5m --cores 2 \\
        --out benchmarks/results/resamplers
"""

from __future__ import annotations

import argparse
import csv
import platform
import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import yaml

RESAMPLERS = ("oversample", "mlsmote")
VARIANTS: dict[str, dict | None] = {
    "none": None,
    "mlsmote": {
        "k": {"type": "int", "low": 3, "high": 10, "default": 5},
        "amount": {"type": "float", "low": 0.25, "high": 3.0, "log": True, "default": 1.0},
        "max_new_fraction": 0.5,
    },
    "lp_oversample": {
        "percentage": {"type": "float", "low": 0.05, "high": 0.5, "log": True, "default": 0.25},
        "max_repeats": 5,
    },
    "lp_smote": {
        "percentage": {"type": "float", "low": 0.05, "high": 0.5, "log": True, "default": 0.25},
        "max_repeats": 5,
        "k": {"type": "int", "low": 3, "high": 10, "default": 5},
    },
    "lp_undersample": {
        "percentage": {"type": "float", "low": 0.05, "high": 0.3, "log": True, "default": 0.1},
    },
}


def variant_space(variant: str, directory: Path) -> Path:
    """Write the default space with ``variant`` as its only (mandatory) resampler."""
    shipped = files("automoa.search_spaces") / "default.yaml"
    space = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    steps = [s for s in space["preprocessing"] if s["step"] not in RESAMPLERS]
    params = VARIANTS[variant]
    if params is not None:
        steps.append({"step": variant, "optional": False, "params": params})
    space["preprocessing"] = steps
    space["name"] = f"default-{variant}".replace("_", "-")
    space["description"] = f"The default space with resampler: {variant}."
    path = directory / f"{variant}.yaml"
    path.write_text(yaml.safe_dump(space, sort_keys=False), encoding="utf-8")
    return path


def held_out(results: Path) -> dict[str, float]:
    """The held-out log loss per dataset of a benchmark's results.csv."""
    with results.open(newline="", encoding="utf-8") as handle:
        return {
            row["dataset"]: float(row["test_log_loss"])
            for row in csv.DictReader(handle)
            if row["system"] == "automoa" and row["test_log_loss"]
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="yeast,emotions")
    parser.add_argument("--budget", default="5m")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/resamplers"))
    args = parser.parse_args()
    variants = args.variants.split(",")
    spaces = args.out / "spaces"
    spaces.mkdir(parents=True, exist_ok=True)
    scores: dict[str, dict[str, float]] = {}
    for variant in variants:
        out = args.out / variant
        if not (out / "results.csv").exists():
            command = [
                sys.executable, "-m", "automoa", "benchmark", "--out", str(out),
                "--datasets", args.datasets, "--systems", "automoa", "--budgets", args.budget,
                "--space", str(variant_space(variant, spaces)), "--cores", str(args.cores),
            ]  # fmt: skip
            subprocess.run(command, check=True)
        scores[variant] = held_out(out / "results.csv")
    datasets = args.datasets.split(",")
    lines = [
        "# Resamplers at a fixed budget: held-out mean column-wise log loss",
        "",
        f"Machine: {platform.machine()}, {args.cores} cores, CPU. Command: `python "
        f"benchmarks/resamplers.py --datasets {args.datasets} --budget {args.budget} --cores "
        f"{args.cores} --out {args.out}`. Each cell: the `default` space with that resampler in "
        "every trial (`none`: no resampler), one outer fold, seed 0; in brackets the ratio to "
        "`none` (below 1 is better).",
        "",
        "| variant | " + " | ".join(datasets) + " |",
        "|---" * (len(datasets) + 1) + "|",
    ]
    for variant in variants:
        cells = []
        for dataset in datasets:
            value = scores[variant].get(dataset)
            base = scores.get("none", {}).get(dataset)
            if value is None:
                cells.append("-")
            elif base and variant != "none":
                cells.append(f"{value:.4f} ({value / base:.3f})")
            else:
                cells.append(f"{value:.4f}")
        lines.append(f"| {variant} | " + " | ".join(cells) + " |")
    (args.out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
