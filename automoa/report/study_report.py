"""A self-contained report of one study: ``report.html``, ``report.md`` and PNG plots.

:func:`write_report` reads whatever the study holds, including a study still being searched
(running or queued trials, no ensemble yet, trials without timings), and writes:

1. a header (data, metric, folds, space, trials per state, prior, best trial, ensemble);
2. the optimisation history (CV log loss of complete trials against wall time);
3. the leaderboard (top 20 complete trials with their key parameters);
4. the ensemble's members, weights and stages;
5. parameter importances per model family (fANOVA on each family's complete trials, since
   every family has its own parameters);
6. log loss per label against the label's positives, and
7. the 20 worst labels (both need the study's data and the trials' out-of-fold predictions;
   without them a note says why they are left out);
8. time spent per family and trial state;
9. the budget and time of each search run (:func:`automoa.search.study.search_runs`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.trial import FrozenTrial, TrialState

from automoa._version import __version__
from automoa.atomic import atomic_write
from automoa.data.dataset import Dataset
from automoa.deadline import format_duration
from automoa.exceptions import AutomoaError, ConfigError, check_directory_path
from automoa.metrics import EPS
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
from automoa.report.study_facts import (
    MIN_IMPORTANCE_TRIALS,
    complete_trials,
    family_importances,
    family_of,
    key_params,
    label_losses,
    read_ensemble,
    trial_seconds,
)
from automoa.search.ensembling import EnsembleReport
from automoa.search.record import TrialRecord
from automoa.search.study import (
    DATA_ATTR,
    StudyLocation,
    StudyMeta,
    read_meta,
    read_meta_for,
    search_runs,
)

HTML_NAME = "report.html"
MARKDOWN_NAME = "report.md"
HISTORY_PNG, IMPORTANCES_PNG, LABEL_LOSS_PNG, TIME_PNG = (
    "history.png",
    "importances.png",
    "label_loss.png",
    "time.png",
)
#: The figures a report may write next to its pages.
PLOT_NAMES = (HISTORY_PNG, IMPORTANCES_PNG, LABEL_LOSS_PNG, TIME_PNG)
LEADERBOARD_ROWS = 20
WORST_LABELS = 20
_FINISHED = {
    TrialState.COMPLETE: "complete",
    TrialState.PRUNED: "pruned",
    TrialState.FAIL: "failed",
}
_STATE_ORDER = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote.

    Attributes:
        html: the self-contained HTML page.
        markdown: the Markdown version (links the PNGs by relative path).
        plots: figure name (``history``, ``importances``, ``label_loss``, ``time``) -> PNG;
            a figure without data to draw is not written.
    """

    html: Path
    markdown: Path
    plots: dict[str, Path] = field(default_factory=dict)


# --------------------------------------------------------------------------- formatting


def _fmt(value: Any, digits: int = 5) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _states(trials: Sequence[FrozenTrial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    order = {name: i for i, name in enumerate(_STATE_ORDER)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], 9), item[0])))


# --------------------------------------------------------------------------- sections


def _header(
    study: optuna.Study,
    meta: StudyMeta,
    trials: Sequence[FrozenTrial],
    ensemble: EnsembleReport | None,
) -> Section:
    states = _states(trials)
    described = ", ".join(f"{n} {s.lower()}" for s, n in states.items())
    facts = [
        ("study", study.study_name),
        (
            "data",
            f"{meta.data_name} ({meta.n_rows} rows, {len(meta.target_names)} labels)",
        ),
    ]
    spec = study.user_attrs.get(DATA_ATTR)
    if isinstance(spec, dict) and spec.get("path"):
        facts.append(("data read from", str(spec["path"])))
    facts += [
        ("metric", meta.metric),
        ("folds", f"{meta.n_splits}" + (" (group-aware)" if meta.group_folds else "")),
        ("search space", meta.space_name),
        ("trials", f"{len(trials)} ({described})" if trials else "none yet"),
        ("prior CV log loss", f"{meta.prior_cv_log_loss:.5f} (constant per-label rate)"),
    ]
    complete = complete_trials(trials)
    if complete:
        best = min(complete, key=lambda t: (t.value, t.number))
        gain = 100.0 * (meta.prior_cv_log_loss - best.value) / meta.prior_cv_log_loss
        facts.append(
            (
                "best CV log loss",
                f"{best.value:.5f} (trial {best.number}, {family_of(best)}; "
                f"{abs(gain):.1f}% {'below' if gain >= 0 else 'above'} the prior)",
            )
        )
    else:
        facts.append(("best CV log loss", "no complete trial yet"))
    if ensemble is None:
        facts.append(("ensemble", "none stored yet"))
    else:
        facts.append(
            (
                "ensemble honest CV log loss",
                f"{ensemble.honest_score:.5f} ({ensemble.method}, {len(ensemble.members)} members)",
            )
        )
    facts.append(("study created by", f"automoa {meta.automoa_version}"))
    return Section("Summary", "summary", (Facts(tuple(facts)),))


def _history(
    trials: Sequence[FrozenTrial], meta: StudyMeta, out: Path, plots: dict[str, Path]
) -> Section:
    from automoa.report import plots as figures

    complete = [t for t in complete_trials(trials) if t.datetime_complete is not None]
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    states = _states(trials)
    counts = {word: states.get(s, 0) for s, word in (("PRUNED", "pruned"), ("FAIL", "failed"))}
    left_out = ""
    if sum(counts.values()):
        left_out = " and ".join(f"{n} {word}" for word, n in counts.items() if n)
        left_out += " trial" + ("s" if sum(counts.values()) > 1 else "") + " left out"
    pending = states.get("RUNNING", 0) + states.get("WAITING", 0)
    caption = f"{_plural(len(complete), 'complete trial')}, coloured by model family"
    if left_out:
        caption += f"; {left_out} (no full CV score)"
    if pending:
        caption += f"; {pending} running or queued"
    caption += (
        ". The black step line is the best CV log loss so far; the dashed line is the "
        "constant prior's."
    )
    if not complete or not starts:
        return Section(
            "Optimisation history",
            "history",
            (Paragraph("No complete trial yet: nothing to plot.", note=True),),
        )
    first = min(starts)
    minutes = [(t.datetime_complete - first).total_seconds() / 60.0 for t in complete]
    plots["history"] = figures.plot_history(
        minutes,
        [t.value for t in complete],
        [family_of(t) for t in complete],
        meta.prior_cv_log_loss,
        out / HISTORY_PNG,
        subtitle=left_out,
    )
    figure = Figure(plots["history"], caption, "CV log loss of each trial against wall time")
    return Section("Optimisation history", "history", (figure,))


def _leaderboard(trials: Sequence[FrozenTrial]) -> Section:
    # Ranked as automoa status ranks them (CV log loss, then trial number), from the same
    # snapshot of the trials as every other section.
    ranked = sorted(complete_trials(trials), key=lambda t: (t.value, t.number))
    rows = []
    for rank, trial in enumerate(ranked[:LEADERBOARD_ROWS], start=1):
        std = TrialRecord.read(trial).cv_std
        loss = _fmt(trial.value)
        if isinstance(std, int | float) and math.isfinite(std):
            loss += f" ± {std:.5f}"
        seconds = trial_seconds(trial)
        rows.append(
            (
                str(rank),
                str(trial.number),
                family_of(trial),
                loss,
                "-" if seconds is None else f"{seconds:.1f}",
                key_params(trial.params),
            )
        )
    if not rows:
        return Section(
            "Leaderboard", "leaderboard", (Paragraph("No complete trial yet.", note=True),)
        )
    table = Table(
        ("rank", "trial", "family", "CV log loss ± fold std", "seconds", "key parameters"),
        tuple(rows),
        (True, True, False, True, True, False),
        caption=f"Top {len(rows)} of {len(ranked)} complete trials, best first.",
    )
    return Section("Leaderboard", "leaderboard", (table,))


def _ensemble(ensemble: EnsembleReport | None, trials: Sequence[FrozenTrial]) -> Section:
    if ensemble is None:
        note = Paragraph(
            "No ensemble is stored with this study yet: automoa search builds one at its "
            "end, automoa ensemble (re)builds it.",
            note=True,
        )
        return Section("Ensemble", "ensemble", (note,))
    by_number = {t.number: t for t in trials}
    clip = ensemble.clip
    facts = Facts(
        (
            ("method", ensemble.method),
            ("selection", ensemble.selection),
            ("seed averaging", _seed_fact(ensemble)),
            (
                "floor",
                "applied: the best single trial alone (every combination estimated worse)"
                if ensemble.floor
                else "not needed",
            ),
            ("honest CV log loss", f"{ensemble.honest_score:.5f} (each stage fitted on K-1 folds)"),
            ("CV log loss fitted on all rows", f"{ensemble.score:.5f} (optimistic)"),
            ("best single trial", f"{ensemble.best_single:.5f}"),
            ("candidates", str(ensemble.n_candidates)),
            (
                "clipping",
                "none" if not clip else f"[{clip.get('low', 0):g}, 1 - {clip.get('high', 0):g}]",
            ),
        )
    )
    members = []
    for number, family, weight in zip(
        ensemble.members, ensemble.families, ensemble.weights, strict=True
    ):
        trial = by_number.get(number)
        value = trial.value if trial is not None and trial.state == TrialState.COMPLETE else None
        members.append((str(number), family, f"{weight:.3f}", _fmt(value)))
    stages = tuple(
        (
            str(stage.get("stage", "?")),
            _fmt(stage.get("honest_score")) if stage.get("honest_score") is not None else "skipped",
            "yes" if stage.get("kept") else "no",
            str(stage.get("note") or ""),
        )
        for stage in ensemble.stages
    )
    return Section(
        "Ensemble",
        "ensemble",
        (
            facts,
            Table(
                ("member trial", "family", "weight", "member CV log loss"),
                tuple(members),
                (True, False, True, True),
                caption="Members and their weights.",
            ),
            Table(
                ("stage", "honest CV log loss", "kept", "note"),
                stages,
                (False, True, False, False),
                caption="Stages tried, in order; each is kept only if it improves the honest "
                "estimate.",
            ),
        ),
    )


def _importances(trials: Sequence[FrozenTrial], out: Path, plots: dict[str, Path]) -> Section:
    from automoa.report import plots as figures

    importances, notes = family_importances(trials)
    counts: dict[str, int] = {}
    for trial in complete_trials(trials):
        counts[family_of(trial)] = counts.get(family_of(trial), 0) + 1
    rows = []
    for family in sorted(counts):
        if family in importances:
            ranked = sorted(importances[family].items(), key=lambda kv: (-kv[1], kv[0]))
            result = ", ".join(f"{n} {v:.2f}" for n, v in ranked)
        else:
            result = notes[family]
        rows.append((family, str(counts[family]), result))
    blocks: list[Any] = []
    if importances:
        plots["importances"] = figures.plot_importances(importances, out / IMPORTANCES_PNG)
        blocks.append(
            Figure(
                plots["importances"],
                "fANOVA importance (Optuna, seed 0) of each searched parameter within each "
                "model family, computed on that family's complete trials only; parameters "
                "every trial of the family shares and that took several values.",
                "Parameter importances per model family",
            )
        )
    if rows:
        blocks.append(
            Table(
                ("family", "complete trials", "importances"),
                tuple(rows),
                (False, True, False),
                caption=f"Families need {MIN_IMPORTANCE_TRIALS} complete trials and two "
                "varied parameters.",
            )
        )
    else:
        blocks.append(Paragraph("No complete trial yet.", note=True))
    return Section("Parameter importances", "importances", tuple(blocks))


def _labels(
    study: optuna.Study,
    location: StudyLocation,
    dataset: Dataset | None,
    data_note: str | None,
    trials: Sequence[FrozenTrial],
    out: Path,
    plots: dict[str, Path],
) -> tuple[Section, Section]:
    from automoa.report import plots as figures

    title6, title7 = "Log loss per label", f"The {WORST_LABELS} worst labels"
    losses = None
    if dataset is None:
        why = data_note or "no data was given and the study does not record where its data is"
        note = f"Per-label losses need the study's data, which could not be loaded: {why}"
    elif not complete_trials(trials):
        note = "Per-label losses need a complete trial; there is none yet."
    else:
        try:
            losses = label_losses(study, location, dataset, trials=trials)
        except AutomoaError as exc:
            note = f"Per-label losses are left out: {exc}"
    if losses is None:
        skipped = Paragraph("Left out: needs the per-label losses (see above).", note=True)
        return (
            Section(title6, "labels", (Paragraph(note, note=True),)),
            Section(title7, "worst-labels", (skipped,)),
        )
    plots["label_loss"] = figures.plot_label_losses(
        losses.positives.tolist(),
        losses.losses.tolist(),
        losses.names,
        out / LABEL_LOSS_PNG,
        source=losses.source,
    )
    caption = (
        f"Binary log loss of each of the {len(losses.names)} labels (natural log, "
        f"predictions clipped to [{EPS:g}, 1-{EPS:g}], all rows) of the {losses.source}, "
        "against the label's positives in the training data. Their mean is the CV log loss."
    )
    figure = Figure(plots["label_loss"], caption, "Log loss per label against its positives")
    total = float(losses.losses.sum())
    order = np.argsort(-losses.losses, kind="stable")[:WORST_LABELS]
    rows = tuple(
        (
            str(rank),
            losses.names[i],
            str(int(losses.positives[i])),
            f"{losses.losses[i]:.5f}",
            f"{100.0 * losses.losses[i] / total:.1f}%" if total > 0 else "-",
        )
        for rank, i in enumerate(order, start=1)
    )
    share = float(losses.losses[order].sum()) / total if total > 0 else 0.0
    table = Table(
        ("rank", "label", "positives", "log loss", "share of total loss"),
        rows,
        (True, False, True, True, True),
        caption=f"The {len(rows)} labels with the largest log loss carry {share:.0%} of the "
        "total (same predictions as above).",
    )
    return Section(title6, "labels", (figure,)), Section(title7, "worst-labels", (table,))


def _time(trials: Sequence[FrozenTrial], out: Path, plots: dict[str, Path]) -> Section:
    from automoa.report import plots as figures

    seconds: dict[str, dict[str, float]] = {}
    counts: dict[str, dict[str, int]] = {}
    unknown = 0
    for trial in trials:
        state = _FINISHED.get(trial.state)
        if state is None:
            continue
        spent = trial_seconds(trial)
        if spent is None:
            unknown += 1
            spent = 0.0
        family = family_of(trial)
        per_state = seconds.setdefault(family, {})
        per_state[state] = per_state.get(state, 0.0) + spent
        counted = counts.setdefault(family, {})
        counted[state] = counted.get(state, 0) + 1
    running = sum(t.state == TrialState.RUNNING for t in trials)
    if not seconds:
        return Section("Time spent", "time", (Paragraph("No finished trial yet.", note=True),))
    plots["time"] = figures.plot_time(seconds, out / TIME_PNG)
    grand = sum(sum(s.values()) for s in seconds.values())
    states = list(_FINISHED.values())
    rows = []
    for family in sorted(seconds, key=lambda f: (-sum(seconds[f].values()), f)):
        total = sum(seconds[family].values())
        rows.append(
            (
                family,
                " / ".join(str(counts[family].get(s, 0)) for s in states),
                *(f"{seconds[family].get(s, 0.0):.1f}" for s in states),
                f"{total:.1f}",
                f"{100.0 * total / grand:.0f}%" if grand > 0 else "-",
            )
        )
    rows.append(
        (
            "all",
            " / ".join(str(sum(c.get(s, 0) for c in counts.values())) for s in states),
            *(f"{sum(v.get(s, 0.0) for v in seconds.values()):.1f}" for s in states),
            f"{grand:.1f}",
            "100%" if grand > 0 else "-",
        )
    )
    caption = "Each trial's recorded wall time (else its start-to-end time), summed."
    if unknown:
        caption += f" {_plural(unknown, 'finished trial')} without a recorded time count as 0 s."
    if running:
        caption += f" {_plural(running, 'running trial')} not counted yet."
    table = Table(
        (
            "family",
            "trials (complete / pruned / failed)",
            "complete s",
            "pruned s",
            "failed s",
            "total s",
            "share",
        ),
        tuple(rows),
        (False, True, True, True, True, True, True),
    )
    figure = Figure(plots["time"], caption, "Seconds per model family and trial state")
    return Section("Time spent", "time", (figure, table))


def _iso(value: Any) -> str:
    try:
        when = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def _budget(study: optuna.Study) -> Section:
    runs = search_runs(study)
    if not runs:
        note = Paragraph(
            "Budget use: not recorded (no search of this study has recorded its budget and time).",
            note=True,
        )
        return Section("Budget used", "budget", (note,))
    rows = []
    budgets, used = 0.0, 0.0
    for i, run in enumerate(runs, start=1):
        budgets += run.budget_seconds
        used += run.seconds
        rows.append(
            (
                str(i),
                _iso(run.started),
                format_duration(run.budget_seconds),
                format_duration(run.seconds),
                f"{100.0 * run.seconds / run.budget_seconds:.0f}%" if run.budget_seconds else "-",
                run.stopped_by,
                str(run.workers),
                str(run.trials_run),
            )
        )
    share = f"{100.0 * used / budgets:.0f}%" if budgets > 0 else "-"
    rows.append(("all", "", format_duration(budgets), format_duration(used), share, "", "", ""))
    table = Table(
        ("run", "started", "budget", "time used", "share", "stopped by", "workers", "trials"),
        tuple(rows),
        (True, False, True, True, True, False, True, True),
        caption="Each search invocation's wall-clock budget and the time it used, ensemble "
        "included.",
    )
    total = Paragraph(
        f"Total: {format_duration(used)} used of {format_duration(budgets)} budgeted over "
        f"{_plural(len(runs), 'search run')}."
    )
    return Section("Budget used", "budget", (total, table))


# --------------------------------------------------------------------------- entry point


def _prepare_out(out: str | Path, overwrite: bool) -> Path:
    out = Path(out)
    check_directory_path(out, "--out")
    names = (HTML_NAME, MARKDOWN_NAME, *PLOT_NAMES)
    # lexists: a symbolic link (even a dangling one) under a name the report writes counts.
    taken = [name for name in names if os.path.lexists(out / name)]
    links = [name for name in taken if (out / name).is_symlink()]
    if links:
        raise ConfigError(
            f"--out {out}: {links[0]} is a symbolic link; a report never replaces one"
        )
    if taken and not overwrite:
        raise ConfigError(
            f"--out {out}: already holds {', '.join(taken)}; choose another directory or pass "
            "--overwrite"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_report(
    study: optuna.Study,
    out: str | Path,
    *,
    location: StudyLocation,
    dataset: Dataset | None,
    overwrite: bool = False,
    data_note: str | None = None,
) -> ReportFiles:
    """Write the report of a study into the directory ``out``.

    Writes ``report.html`` (self-contained: figures embedded, inline CSS, no script),
    ``report.md`` (links the PNGs) and the PNG figures, each atomically; other files in
    ``out`` are left alone.

    Args:
        study: the study (it may still be running).
        out: the directory to write into (created if missing).
        location: where the study's artifacts are (for the out-of-fold predictions).
        dataset: the study's data, for the per-label losses; ``None`` leaves them out with a
            note.
        overwrite: replace a report already in ``out``.
        data_note: why ``dataset`` is ``None``, for that note.

    Returns:
        The files written.

    Raises:
        ConfigError: ``out`` already holds a file the report writes (and not ``overwrite``),
            a symbolic link under such a name, or is a file.
        StudyError: not an automoa study, or ``dataset`` is not the data it was created on.
    """
    meta = read_meta(study) if dataset is None else read_meta_for(study, dataset)
    out = _prepare_out(out, overwrite)
    trials = study.get_trials(deepcopy=False)
    ensemble = read_ensemble(study)
    plots: dict[str, Path] = {}
    labels, worst = _labels(study, location, dataset, data_note, trials, out, plots)
    sections = (
        _header(study, meta, trials, ensemble),
        _history(trials, meta, out, plots),
        _leaderboard(trials),
        _ensemble(ensemble, trials),
        _importances(trials, out, plots),
        labels,
        worst,
        _time(trials, out, plots),
        _budget(study),
    )
    doc = Document(
        f"automoa report: study {study.study_name}",
        f"{meta.data_name}, {meta.n_splits}-fold CV, space {meta.space_name}; written by "
        f"automoa {__version__}.",
        sections,
    )
    markdown = out / MARKDOWN_NAME
    with atomic_write(markdown, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(render_markdown(doc, out))
    # The HTML last: a directory holding report.html holds a whole report.
    page = out / HTML_NAME
    with atomic_write(page, "w", encoding="utf-8", newline="\n") as handle:
        handle.write(render_html(doc))
    order = ("history", "importances", "label_loss", "time")
    return ReportFiles(page, markdown, {name: plots[name] for name in order if name in plots})


def _seed_fact(ensemble: EnsembleReport) -> str:
    """What re-training members with extra seeds did."""
    if ensemble.seed_gain is None:
        return "no member has extra seeds"
    if not ensemble.seed_groups:
        return f"not kept (honest estimate {-ensemble.seed_gain:.5f} worse)"
    groups = ", ".join(f"trial {g[0]} x{len(g)}" for g in ensemble.seed_groups)
    return f"{groups}; honest estimate {ensemble.seed_gain:+.5f} better"
