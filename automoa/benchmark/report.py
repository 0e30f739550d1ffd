"""The benchmark's report: tables and plots from ``results.csv``, ``anytime.csv``,
``per_label.csv``; written as ``report.md`` (with PNGs beside it) and a self-contained
``report.html``."""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps

from automoa.atomic import atomic_write
from automoa.benchmark.runner import ANYTIME, PER_LABEL, RESULTS
from automoa.benchmark.summary import (
    REFERENCE_ONE,
    REFERENCE_ZERO,
    best_so_far,
    dataset_table,
    format_loss,
    overall_table,
    variant_name,
)
from automoa.exceptions import ConfigError
from automoa.report.plots import new_figure, save_figure
from automoa.report.render import (
    Document,
    Facts,
    Figure,
    Paragraph,
    Section,
    Table,
    render_html,
    render_markdown,
)

PROTOCOL = (
    "Held-out rows are the official test split where the dataset has one, otherwise outer "
    "multilabel-stratified folds (drug-aware for MoA-like data); no system sees their labels. "
    "Every system gets the same cores; automoa and the other AutoML systems the same wall-clock "
    "budget. Metric: mean column-wise log loss (lower is better). Normalised score: 0 = prior, "
    "1 = tuned per-label logistic regression; failures count as the prior. It is undefined "
    "on a dataset where the tuned logistic regression does not beat the prior, and the mean "
    "normalised score is over the datasets where it is defined. Ranks are by held-out log "
    "loss within each dataset (1 = best). On generated data with known true probabilities "
    "(moa-nonlinear-*), the Bayes log loss is those probabilities scored on the same held-out "
    "rows, and a system's gap ratio is (loss - Bayes) / (prior - Bayes): 0 = the oracle, "
    "1 = the prior (failures count as 1; lower is better)."
)


@dataclass(frozen=True)
class BenchmarkReport:
    """The files written."""

    markdown: Path
    html: Path
    plots: dict[str, Path]


def _grid(n: int) -> tuple[int, int]:
    cols = min(3, n)
    return (n + cols - 1) // cols, cols


def plot_anytime(anytime: pd.DataFrame, results: pd.DataFrame, path: Path) -> Path:
    """Held-out log loss of each system's incumbent against wall time, one panel per dataset."""
    datasets = sorted(results["dataset"].unique())
    rows, cols = _grid(len(datasets))
    fig = new_figure(4.2 * cols, 3.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    points = best_so_far(anytime)
    variants = sorted(points["variant"].unique())
    colours = {v: colormaps["tab20"](i % 20) for i, v in enumerate(variants)}
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        here = points[points["dataset"] == dataset]
        for (variant, _fold, _seed), run in here.groupby(["variant", "fold", "seed"]):
            style = "o-" if len(run) > 1 else "o"
            ax.plot(
                run["seconds"],
                run["test_log_loss"],
                style,
                ms=3,
                lw=1,
                drawstyle="steps-post",
                color=colours[variant],
                label=variant,
            )
        for name, line in ((REFERENCE_ZERO, ":"), (REFERENCE_ONE, "--")):
            ref = results[(results["dataset"] == dataset) & (results["system"] == name)]
            if not ref.empty:
                ax.axhline(ref["test_log_loss"].mean(), ls=line, color="grey", lw=0.8)
        ax.set_xscale("log")
        ax.set_title(dataset)
        ax.set_xlabel("wall seconds")
        ax.set_ylabel("held-out log loss")
        handles, labels = ax.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        ax.legend(unique.values(), unique.keys(), fontsize=6)
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    fig.suptitle("Anytime: the incumbent's held-out log loss (dotted: prior, dashed: logreg)")
    return save_figure(fig, path)


def plot_normalised(table: pd.DataFrame, path: Path) -> Path:
    """Mean normalised score per system (bars) with each dataset's score (dots)."""
    order = table.groupby("variant")["normalised"].mean().sort_values(ascending=True).index.tolist()
    fig = new_figure(8, 0.45 * len(order) + 1.5)
    ax = fig.subplots()
    means = table.groupby("variant")["normalised"].mean().reindex(order)
    ax.barh(range(len(order)), means.fillna(0), color="#7aa6c2")
    datasets = sorted(table["dataset"].unique())
    markers = "osD^v<>Ph*"
    for i, dataset in enumerate(datasets):
        here = table[table["dataset"] == dataset].set_index("variant").reindex(order)
        undefined = here["normalised"].isna().all()  # logreg does not beat the prior there
        ax.plot(
            here["normalised"],
            range(len(order)),
            markers[i % len(markers)],
            ms=5,
            label=f"{dataset} (undefined)" if undefined else dataset,
            alpha=0.8,
        )
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.axvline(1, color="grey", lw=0.8, ls="--")
    ax.set_yticks(range(len(order)), order)
    ax.set_xlabel("normalised score (0 = prior, 1 = tuned logistic regression; higher is better)")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Normalised held-out score per system")
    return save_figure(fig, path)


def plot_per_label(per_label: pd.DataFrame, path: Path) -> Path:
    """Per-label held-out loss against training positives: the best automoa run and logreg."""
    datasets = sorted(per_label["dataset"].unique())
    rows, cols = _grid(len(datasets))
    fig = new_figure(4.2 * cols, 3.4 * rows)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, dataset in zip(axes.flat, datasets, strict=False):
        here = per_label[per_label["dataset"] == dataset]
        automoa = here[here["system"] == "automoa"]
        shown = []
        if not automoa.empty:
            top = automoa["budget_seconds"].max()
            shown.append((automoa[automoa["budget_seconds"] == top], variant_name("automoa", top)))
        shown.append((here[here["system"] == REFERENCE_ONE], REFERENCE_ONE))
        for frame, name in shown:
            means = frame.groupby("label")[["train_positives", "test_log_loss"]].mean()
            ax.scatter(means["train_positives"], means["test_log_loss"], s=12, label=name)
        ax.set_xscale("log")
        ax.set_title(dataset)
        ax.set_xlabel("training positives of the label")
        ax.set_ylabel("held-out log loss")
        ax.legend(fontsize=7)
    for ax in axes.flat[len(datasets) :]:
        ax.set_visible(False)
    fig.suptitle("Per-label held-out log loss")
    return save_figure(fig, path)


def _table(frame: pd.DataFrame, numeric: tuple[str, ...] = ()) -> Table:
    return Table(
        tuple(str(c) for c in frame.columns),
        tuple(tuple(str(v) for v in row) for row in frame.itertuples(index=False)),
        tuple(c in numeric for c in frame.columns),
    )


_NUMERIC = (
    "rank",
    "held-out log loss",
    "normalised",
    "gap ratio",
    "mean gap ratio",
    "CV log loss",
    "wall s",
    "max overrun s",
    "mean rank",
    "mean normalised",
    "datasets",
    "failures",
)


def _ratio(values: pd.Series) -> list[str]:
    return [f"{v:.3f}" if np.isfinite(v) else "-" for v in values]


def _display(table: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "rank": table["rank"],
            "system": table["variant"],
            "held-out log loss": [
                f"{format_loss(m)} ± {s:.5f}" if np.isfinite(s) and s > 0 else format_loss(m)
                for m, s in zip(table["test_log_loss"], table["std"].fillna(0), strict=True)
            ],
            "normalised": [f"{v:.3f}" if np.isfinite(v) else "-" for v in table["normalised"]],
            "CV log loss": [format_loss(v) for v in table["cv_log_loss"]],
            "wall s": [f"{v:.0f}" for v in table["wall_seconds"]],
            "max overrun s": [f"{v:.0f}" for v in table["max_overrun_seconds"]],
            "failed / runs": [
                f"{f} / {r}" for f, r in zip(table["failures"], table["runs"], strict=True)
            ],
        }
    )
    if table["gap_ratio"].notna().any():  # only datasets with true probabilities have one
        frame.insert(3, "gap ratio", _ratio(table["gap_ratio"]))
    return frame


def _overall_display(overall: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "system": overall["variant"],
            "mean rank": [f"{v:.2f}" for v in overall["mean_rank"]],
            "mean normalised": [
                f"{v:.3f}" if np.isfinite(v) else "-" for v in overall["mean_normalised"]
            ],
            "datasets": overall["datasets"],
            "failures": overall["failures"],
        }
    )
    if overall["mean_gap_ratio"].notna().any():
        frame.insert(3, "mean gap ratio", _ratio(overall["mean_gap_ratio"]))
    return frame


def _bayes_note(here: pd.DataFrame) -> str | None:
    """The dataset's Bayes log loss, where its true probabilities are known."""
    bayes = here["bayes_log_loss"].dropna()
    if bayes.empty:
        return None
    return (
        f"Bayes log loss (the true probabilities scored on the same held-out rows; no "
        f"predictor of the features does better in expectation): {format_loss(bayes.mean())}. "
        "Gap ratio: (loss - Bayes) / (prior - Bayes), 0 = oracle, 1 = prior."
    )


def _undefined_normalisation_note(here: pd.DataFrame) -> str | None:
    """Why a dataset has no normalised scores, when both references ran and that is why."""
    losses = here.set_index("variant")["test_log_loss"]
    if REFERENCE_ZERO not in losses or REFERENCE_ONE not in losses:
        return None
    zero, one = losses[REFERENCE_ZERO], losses[REFERENCE_ONE]
    # ``normalised_results`` decides (no positive span); this only explains its NaNs.
    if not (np.isfinite(zero) and np.isfinite(one)) or here["normalised"].notna().any():
        return None
    return (
        f"No normalised scores here: the tuned logistic regression ({format_loss(one)}) does not "
        f"beat the prior ({format_loss(zero)}), so there is no span to normalise by. The "
        "dataset counts in the mean rank, not in the mean normalised score."
    )


def _failures(results: pd.DataFrame) -> pd.DataFrame:
    failed = results[results["failure"].fillna("") != ""]
    return pd.DataFrame(
        {
            "dataset": failed["dataset"],
            "fold": failed["fold"],
            "system": [
                variant_name(s, b)
                for s, b in zip(failed["system"], failed["budget_seconds"], strict=True)
            ],
            "seed": failed["seed"],
            "reason": failed["failure"],
        }
    )


def write_benchmark_report(out: str | Path) -> BenchmarkReport:
    """Write ``report.md``, ``report.html`` and the plots from the results in ``out``.

    Raises:
        ConfigError: ``out`` holds no ``results.csv``.
    """
    out = Path(out)
    results_path = out / RESULTS
    if not results_path.is_file():
        raise ConfigError(f"--out {out}: no {RESULTS} there; run the benchmark first")
    results = pd.read_csv(results_path, dtype={"fold": str, "failure": str, "notes": str})
    anytime = pd.read_csv(out / ANYTIME, dtype={"fold": str}) if (out / ANYTIME).is_file() else None
    per_label = (
        pd.read_csv(out / PER_LABEL, dtype={"fold": str}) if (out / PER_LABEL).is_file() else None
    )
    table = dataset_table(results)
    overall = overall_table(results)
    plots = {"normalised": plot_normalised(table, out / "normalised.png")}
    if anytime is not None and not anytime.empty:
        plots["anytime"] = plot_anytime(anytime, results, out / "anytime.png")
    if per_label is not None and not per_label.empty:
        plots["per_label"] = plot_per_label(per_label, out / "per_label.png")

    budgets = sorted({float(b) for b in results["budget_seconds"].dropna()})
    facts = Facts(
        (
            ("runs", f"{len(results)} on {results['dataset'].nunique()} datasets"),
            ("systems", ", ".join(sorted(results["system"].unique()))),
            ("budgets", ", ".join(variant_name("", b).strip() for b in budgets) or "-"),
            ("seeds", ", ".join(str(s) for s in sorted(results["seed"].unique()))),
            ("cores", ", ".join(str(c) for c in sorted(results["cores"].unique()))),
            ("machine", f"{platform.machine()}, Python {platform.python_version()}"),
        )
    )
    sections = [
        Section("Protocol", "protocol", (facts, Paragraph(PROTOCOL))),
        Section("Overall", "overall", (_table(_overall_display(overall), _NUMERIC),)),
    ]
    for dataset, here in table.groupby("dataset", sort=True):
        name = str(dataset)
        parts = [_table(_display(here), _NUMERIC)]
        for note in (_bayes_note(here), _undefined_normalisation_note(here)):
            if note:
                parts.append(Paragraph(note, note=True))
        sections.append(Section(name, f"dataset-{name}", tuple(parts)))
    failures = _failures(results)
    if not failures.empty:
        sections.append(Section("Failures", "failures", (_table(failures),)))
    captions = {
        "normalised": "Mean normalised score per system (bars) and each dataset's (markers).",
        "anytime": "Held-out log loss of each system's incumbent against wall time.",
        "per_label": "Per-label held-out log loss against the label's training positives.",
    }
    figures = tuple(Figure(path, captions[name], name) for name, path in plots.items())
    sections.append(Section("Plots", "plots", figures))
    document = Document("automoa benchmark", "Held-out comparison of systems", tuple(sections))
    markdown_path, html_path = out / "report.md", out / "report.html"
    with atomic_write(markdown_path, "w") as handle:
        handle.write(render_markdown(document, out))
    with atomic_write(html_path, "w") as handle:
        handle.write(render_html(document))
    return BenchmarkReport(markdown_path, html_path, plots)
