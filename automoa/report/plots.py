"""The figures of a study report, drawn with matplotlib and saved as PNG files.

Each function takes plain data (computed by :mod:`automoa.report.study_report`), draws one
figure and saves it atomically; each returns the path it wrote. The same data always gives
the same bytes: no timestamps are written into the files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from automoa.atomic import atomic_write

WIDTH_IN = 9.0
DPI = 110
#: Fixed colours for the shipped families, so that a family looks the same in every figure
#: and every report; other families take the remaining colours in name order.
FAMILY_COLORS = {
    "linear": "#1f77b4",
    "xgboost": "#ff7f0e",
    "mlp": "#2ca02c",
    "tabnet": "#9467bd",
    "prior": "#7f7f7f",
}
_SPARE_COLORS = ["#8c564b", "#e377c2", "#bcbd22", "#17becf", "#d62728", "#393b79"]
STATE_COLORS = {"complete": "#2ca02c", "pruned": "#ff7f0e", "failed": "#d62728"}


def family_colors(families: Sequence[str]) -> dict[str, str]:
    """A colour for each family: the fixed ones, then spare colours in name order."""
    colors = {}
    spare = iter(_SPARE_COLORS * (1 + len(families) // len(_SPARE_COLORS)))
    for family in sorted(set(families)):
        colors[family] = FAMILY_COLORS.get(family) or next(spare)
    return colors


def new_figure(width: float, height: float) -> Figure:
    """A figure drawn without pyplot: no GUI backend, and a notebook's backend is left alone."""
    return Figure(figsize=(width, height))


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Lay out ``fig`` and write it as PNG, atomically; returns ``path``."""
    path = Path(path)
    fig.tight_layout()
    with atomic_write(path, "wb") as out:
        # No "Software" text chunk: identical data gives identical bytes across versions.
        fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return path


def _wide_range(values: Sequence[float], ratio: float) -> bool:
    """Whether positive ``values`` span more than ``ratio`` (then a log axis reads better)."""
    finite = [v for v in values if v is not None and np.isfinite(v) and v > 0]
    return len(finite) > 1 and max(finite) / min(finite) > ratio


def plot_history(
    minutes: Sequence[float],
    values: Sequence[float],
    families: Sequence[str],
    prior: float,
    path: str | Path,
    *,
    subtitle: str = "",
) -> Path:
    """CV log loss of every complete trial against wall time, with the best-so-far line.

    Args:
        minutes: when each trial completed, in minutes since the study's first trial started.
        values: each trial's CV log loss.
        families: each trial's model family (the points' colour).
        prior: the constant prior's CV log loss (a horizontal reference line).
        path: the PNG to write.
        subtitle: a second title line (e.g. what was left out).

    Returns:
        ``path``.
    """
    x = np.asarray(minutes, dtype=float)
    y = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="stable")
    fig = new_figure(WIDTH_IN, 4.8)
    ax = fig.subplots()
    colors = family_colors(families)
    for family, color in colors.items():
        mask = np.array([f == family for f in families], dtype=bool)
        ax.scatter(
            x[mask],
            y[mask],
            s=28,
            color=color,
            alpha=0.8,
            edgecolors="white",
            linewidths=0.5,
            label=f"{family} ({int(mask.sum())})",
            zorder=3,
        )
    if len(x):
        best = np.minimum.accumulate(y[order])
        # The line runs on to the last trial, so a late plateau is visible as such.
        ax.step(
            np.append(x[order], x[order][-1]),
            np.append(best, best[-1]),
            where="post",
            color="black",
            linewidth=1.4,
            label="best so far",
            zorder=4,
        )
    ax.axhline(
        prior, color="#555555", linestyle="--", linewidth=1.0, label=f"constant prior {prior:.5f}"
    )
    if _wide_range([*y.tolist(), prior], 3.0):
        ax.set_yscale("log")
    ax.set_xlabel("wall time since the study's first trial started (minutes)")
    ax.set_ylabel("CV log loss (lower is better)")
    title = "Optimisation history"
    ax.set_title(f"{title}\n{subtitle}" if subtitle else title, fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return save_figure(fig, path)


def plot_importances(importances: Mapping[str, Mapping[str, float]], path: str | Path) -> Path:
    """Horizontal bars of each family's parameter importances, one panel per family.

    Args:
        importances: family -> parameter -> importance (fractions summing to 1).
        path: the PNG to write.

    Returns:
        ``path``.
    """
    families = list(importances)
    heights = [max(1.5, 0.45 * len(importances[f]) + 0.9) for f in families]
    fig = new_figure(WIDTH_IN, sum(heights))
    axes = fig.subplots(len(families), 1, gridspec_kw={"height_ratios": heights}, squeeze=False)
    colors = family_colors(families)
    for ax, family in zip(axes[:, 0], families, strict=True):
        ranked = sorted(importances[family].items(), key=lambda item: (item[1], item[0]))
        names = [name for name, _ in ranked]
        scores = [score for _, score in ranked]
        bars = ax.barh(names, scores, color=colors[family], height=0.6)
        ax.bar_label(bars, labels=[f"{s:.2f}" for s in scores], padding=3, fontsize=8)
        ax.set_xlim(0, 1.1)
        ax.set_title(f"{family}", fontsize=10, loc="left")
        ax.set_xlabel("importance (fANOVA, share of the variance of CV log loss)", fontsize=8)
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle("Parameter importances per model family", fontsize=11)
    return save_figure(fig, path)


def plot_label_losses(
    positives: Sequence[int],
    losses: Sequence[float],
    names: Sequence[str],
    path: str | Path,
    *,
    source: str,
    annotate: int = 5,
) -> Path:
    """Each label's log loss against its number of positives (log-scale x).

    Labels without a positive are drawn at x = 0.5 with a distinct marker.

    Args:
        positives: positives of each label in the training data.
        losses: each label's binary log loss.
        names: label names.
        path: the PNG to write.
        source: whose predictions the losses are of (the title's second line).
        annotate: how many of the worst labels to name on the plot.

    Returns:
        ``path``.
    """
    pos = np.asarray(positives, dtype=float)
    loss = np.asarray(losses, dtype=float)
    shown = np.where(pos > 0, pos, 0.5)
    fig = new_figure(WIDTH_IN, 5.0)
    ax = fig.subplots()
    some = pos > 0
    ax.scatter(shown[some], loss[some], s=22, color="#1f77b4", alpha=0.75, label="label")
    if (~some).any():
        ax.scatter(
            shown[~some],
            loss[~some],
            s=36,
            marker="x",
            color="#d62728",
            label="label without a positive (at x = 0.5)",
        )
    ax.axhline(
        float(loss.mean()),
        color="#555555",
        linestyle="--",
        linewidth=1.0,
        label=f"mean over labels {loss.mean():.5f}",
    )
    worst = np.argsort(-loss, kind="stable")[:annotate]
    placed: list[tuple[float, float]] = []
    span = float(loss.max() - loss.min()) or 1.0
    for i in worst:
        # Names of labels at (nearly) the same point are stacked instead of overprinted.
        near = sum(
            abs(np.log10(shown[i] / x)) < 0.05 and abs(loss[i] - y) < 0.03 * span for x, y in placed
        )
        placed.append((shown[i], loss[i]))
        ax.annotate(
            names[i],
            (shown[i], loss[i]),
            xytext=(5, 3 - 9 * near),
            textcoords="offset points",
            fontsize=7,
            color="#333333",
        )
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    if _wide_range(loss.tolist(), 30.0):
        ax.set_yscale("log")
    ax.set_xlabel("positives of the label in the training data (log scale)")
    ax.set_ylabel("binary log loss of the label")
    ax.set_title(f"Log loss per label\n{source}", fontsize=11)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="best", fontsize=8, framealpha=0.9)
    return save_figure(fig, path)


def plot_time(seconds: Mapping[str, Mapping[str, float]], path: str | Path) -> Path:
    """Stacked horizontal bars: seconds per model family, split by trial state.

    Args:
        seconds: family -> state (``complete``, ``pruned``, ``failed``) -> seconds.
        path: the PNG to write.

    Returns:
        ``path``.
    """
    families = sorted(seconds, key=lambda f: (sum(seconds[f].values()), f))
    fig = new_figure(WIDTH_IN, max(2.4, 0.55 * len(families) + 1.6))
    ax = fig.subplots()
    left = np.zeros(len(families))
    for state, color in STATE_COLORS.items():
        widths = np.array([seconds[f].get(state, 0.0) for f in families])
        ax.barh(families, widths, left=left, color=color, height=0.6, label=state)
        left += widths
    for i, total in enumerate(left):
        ax.annotate(
            f"{total:.1f}s",
            (total, i),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_xlim(0, max(1.0, float(left.max(initial=0.0))) * 1.12)
    ax.set_xlabel("seconds (sum over trials)")
    ax.set_title("Time spent per model family and trial state", fontsize=11)
    ax.grid(True, axis="x", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    return save_figure(fig, path)
