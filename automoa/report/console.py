"""Terminal rendering with rich: search progress, leaderboards, data summaries."""

from __future__ import annotations

import math

import pandas as pd
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from automoa.deadline import format_duration
from automoa.search.settings import TrialEvent
from automoa.search.study import StudyMeta


def _fmt(value: float | None, digits: int = 5) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def leaderboard_table(frame: pd.DataFrame, limit: int | None = 20, title: str = "") -> Table:
    """A rich table of a leaderboard DataFrame (see :func:`automoa.report.leaderboard`)."""
    table = Table(title=title or None, title_justify="left")
    for name, justify in [
        ("rank", "right"),
        ("trial", "right"),
        ("family", "left"),
        ("CV log loss", "right"),
        ("fold std", "right"),
        ("seconds", "right"),
        ("state", "left"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("reason", no_wrap=True, overflow="ellipsis", max_width=32)
    shown = frame if limit is None else frame.head(limit)
    for row in shown.itertuples(index=False):
        table.add_row(
            "-" if pd.isna(row.rank) else str(row.rank),
            str(row.trial),
            str(row.family),
            _fmt(row.cv_log_loss),
            _fmt(row.fold_std),
            "-" if row.seconds is None or pd.isna(row.seconds) else f"{row.seconds:.1f}",
            row.state,
            "" if row.reason is None or pd.isna(row.reason) else str(row.reason)[:60],
        )
    return table


class SearchProgress:
    """Live progress of a search: a budget bar plus one line per finished trial."""

    def __init__(self, console: Console, budget_seconds: float) -> None:
        self.console = console
        self.budget_seconds = budget_seconds
        self.trials_done = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = self.progress.add_task("search", total=budget_seconds, status="starting")

    def __enter__(self) -> SearchProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def on_start(self, meta: StudyMeta, n_existing: int) -> None:
        """Announce the study (``n_existing``: trials started before this run)."""
        plural = "" if n_existing == 1 else "s"
        resumed = f"resuming after {n_existing} trial{plural}" if n_existing else "new study"
        self.console.print(
            f"study on {meta.data_name} ({meta.n_rows} rows, {len(meta.target_names)} "
            f"labels, {meta.n_splits} folds, space {meta.space_name}): {resumed}; "
            f"prior CV log loss {meta.prior_cv_log_loss:.5f}",
            markup=False,
        )

    def on_trial(self, event: TrialEvent) -> None:
        """A line for the first trials, each new best and each failure; a summary every 25."""
        self.trials_done += 1
        elapsed = self.progress.tasks[0].elapsed or 0.0
        summary = (
            f"{self.trials_done} trials, best {_fmt(event.best_value)}, "
            f"{format_duration(self.budget_seconds - elapsed)} left"
        )
        new_best = event.state == "COMPLETE" and event.value == event.best_value
        if self.trials_done <= 10 or new_best or event.state == "FAIL":
            if event.state == "COMPLETE":
                outcome = f"{event.value:.5f}" + ("  new best" if new_best else "")
            else:
                outcome = f"{event.state.lower()}: {event.reason or ''}"
            self.console.print(
                f"  trial {event.number:>4}  {event.family:<8} {outcome:<40} {event.seconds:6.1f}s"
            )
        elif self.trials_done % 25 == 0:
            self.console.print(f"  ... {summary}")
        self.progress.update(self.task, completed=min(elapsed, self.budget_seconds), status=summary)
