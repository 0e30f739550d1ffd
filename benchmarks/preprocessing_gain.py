"""Best CV log loss with and without the preprocessing/imbalance steps, same budget.

For each dataset, two searches with the same wall-clock budget and seed: "without" searches
only the model (per-label logistic regression, which standardises internally) with no
preprocessing step; "with" searches the shipped space that offers the steps (``default`` for
yeast, ``moa`` for MoA-like data). Reports the constant prior and the best CV log loss of each.

Usage: python benchmarks/preprocessing_gain.py [--budget 3m] [--out DIR]
"""

from __future__ import annotations

import argparse
import platform
import tempfile
from importlib.resources import files
from pathlib import Path

import yaml

from automoa.data import load, make_moa_like
from automoa.deadline import parse_duration
from automoa.search.controller import run_search
from automoa.search.record import TrialRecord
from automoa.search.settings import SearchSettings
from automoa.search.study import resolve_location
from automoa.spaces import load_space


def without_steps(space_name: str, workdir: Path):
    """The shipped space with its preprocessing block removed."""
    document = yaml.safe_load((files("automoa.search_spaces") / f"{space_name}.yaml").read_text())
    document["name"] = f"{space_name}-without-steps"
    document.pop("preprocessing", None)
    path = workdir / f"{space_name}-without.yaml"
    path.write_text(yaml.safe_dump(document))
    return load_space(path)


def best(dataset, space, budget: float, workdir: Path, name: str):
    outcome = run_search(
        dataset, resolve_location(name, workdir), space, SearchSettings(budget_seconds=budget)
    )
    complete = [
        t for t in outcome.study.trials if t.value is not None and t.state.name == "COMPLETE"
    ]
    top = min(complete, key=lambda t: t.value)
    steps = [s.get("id") or s["name"] for s in TrialRecord.read(top).config["preprocessing"]]
    return outcome.meta.prior_cv_log_loss, top.value, len(outcome.study.trials), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", default="3m")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()
    budget = parse_duration(args.budget)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        cases = [
            ("yeast (1500 x 103, 14 labels)", load("bundled:yeast"), "default"),
            (
                "moa-like (2000 x 876, 206 labels)",
                load(make_moa_like(tmp_path / "moa", rows=2000, seed=0)),
                "moa",
            ),
        ]
        for label, dataset, space_name in cases:
            prior, plain, n_plain, _ = best(
                dataset,
                without_steps(space_name, tmp_path),
                budget,
                tmp_path / f"{space_name}-without",
                "without",
            )
            _, rich, n_rich, steps = best(
                dataset, load_space(space_name), budget, tmp_path / f"{space_name}-with", "with"
            )
            rows.append((label, space_name, prior, plain, n_plain, rich, n_rich, steps))
            print(label, prior, plain, rich, steps)
    lines = [
        "# CV log loss with and without the preprocessing steps",
        "",
        f"Machine: {platform.machine()}, 2 cores; budget {args.budget} per search, seed 0, "
        "5 folds. Command: `python benchmarks/preprocessing_gain.py`.",
        "",
        "| data | space | prior | best without steps (trials) | best with steps (trials) "
        "| gain | steps of the best pipeline |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, space, prior, plain, n_plain, rich, n_rich, steps in rows:
        gain = 100 * (plain - rich) / plain
        lines.append(
            f"| {label} | {space} | {prior:.5f} | {plain:.5f} ({n_plain}) | "
            f"{rich:.5f} ({n_rich}) | {gain:+.1f}% | {', '.join(steps) or 'none'} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "preprocessing_gain.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
