"""What :func:`automoa.search` returns: the study and everything read from it."""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import optuna
import pandas as pd

from automoa.bundle.export import DEFAULT_TOLERANCE, ExportProgress, ExportReport, export_bundle
from automoa.data import Dataset
from automoa.exceptions import ConfigError, StudyError
from automoa.report.leaderboard import leaderboard
from automoa.report.study_report import ReportFiles, write_report
from automoa.search.controller import SearchOutcome
from automoa.search.ensembling import EnsembleReport, stored_ensemble
from automoa.search.record import TrialRecord
from automoa.search.study import StudyLocation


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The outcome of :func:`automoa.search`, with the study it ran on.

    Attributes:
        outcome: this invocation's outcome (trials run, stop reason, seconds, cache use).
        dataset: the data searched.
        location: where the study and its artifacts are.
    """

    outcome: SearchOutcome
    dataset: Dataset
    location: StudyLocation

    @property
    def study(self) -> optuna.Study:
        """The Optuna study (every trial, this run's and earlier runs')."""
        return self.outcome.study

    @property
    def stopped_by(self) -> str:
        """Why this run stopped: ``budget``, ``trials`` or ``interrupted``."""
        return self.outcome.stopped_by

    @property
    def trials_run(self) -> int:
        """Trials this run added to the study."""
        return self.outcome.trials_run

    @property
    def prior_only(self) -> bool:
        """Whether no trial completed, so that the constant prior is this run's only result."""
        return self.outcome.prior_only

    @property
    def prior_submission(self) -> str | None:
        """The prior's test predictions written when :attr:`prior_only` (test data only)."""
        return self.outcome.prior_submission

    @property
    def seconds(self) -> float:
        """Wall time of the search, ensemble excluded."""
        return self.outcome.seconds

    def leaderboard(self) -> pd.DataFrame:
        """One row per trial, complete trials ranked by CV log loss first.

        Columns: rank, trial, family, cv_log_loss, fold_std, seconds, state, reason.
        """
        return leaderboard(self.study)

    @property
    def best_trial(self) -> optuna.trial.FrozenTrial | None:
        """The complete trial with the lowest CV log loss (``None`` before the first one)."""
        complete = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        return min(complete, key=lambda t: (t.value, t.number), default=None)

    @property
    def best_score(self) -> float | None:
        """The best trial's CV log loss (lower is better)."""
        best = self.best_trial
        return None if best is None else float(best.value)

    @property
    def ensemble(self) -> EnsembleReport | None:
        """The study's ensemble (members, weights, scores), if built."""
        return self.outcome.ensemble or stored_ensemble(self.study)

    def oof(self, trial: int | None = None) -> pd.DataFrame:
        """A trial's out-of-fold predictions: one row per training row, one column per target.

        Args:
            trial: the trial number; default the best trial.

        Raises:
            StudyError: no such complete trial, or its predictions are not stored.
        """
        if trial is None:
            best = self.best_trial
            if best is None:
                raise StudyError(f"study {self.study.study_name!r}: no complete trial yet")
            trial = best.number
        if not isinstance(trial, int | np.integer):
            raise ConfigError(f"trial: expected a trial number, got {trial!r}")
        found = [t for t in self.study.get_trials(deepcopy=False) if t.number == trial]
        if not found or found[0].state != optuna.trial.TrialState.COMPLETE:
            state = found[0].state.name if found else "not in the study"
            raise StudyError(f"trial {trial}: {state}; expected a complete trial")
        artifact = TrialRecord.read(found[0]).oof_artifact
        path = None if artifact is None else self.location.open_artifacts().local_path(artifact)
        if path is None:
            raise StudyError(f"trial {trial}: its out-of-fold predictions are not stored")
        values = np.load(path, allow_pickle=False)
        index = pd.Index(self.dataset.ids, name=self.dataset.id_name)
        return pd.DataFrame(values, index=index, columns=list(self.dataset.target_names))

    def export(
        self,
        out: str | Path,
        *,
        device: str | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        progress: ExportProgress | None = None,
    ) -> ExportReport:
        """Write the ensemble as a self-contained bundle (:func:`automoa.load` reads it).

        Args:
            out: the new bundle directory (must not exist, or be empty).
            device: ``cpu`` or ``cuda`` for members that must be re-trained; default the
                device each trial ran on.
            tolerance: largest difference allowed between the shipped models' predictions and
                the recorded out-of-fold predictions.
            progress: called as (folds done, folds in all, what) while re-training.
        """
        return export_bundle(
            self.study,
            self.location,
            self.dataset,
            out,
            device=device,
            tolerance=tolerance,
            progress=progress,
        )

    def report(self, out: str | Path, *, overwrite: bool = False) -> ReportFiles:
        """Write the study's HTML + Markdown report into the directory ``out``."""
        return write_report(
            self.study, out, location=self.location, dataset=self.dataset, overwrite=overwrite
        )

    def _summary(self) -> str:
        best = self.best_trial
        text = (
            f"study {self.study.study_name!r}: {self.trials_run} trials this run "
            f"(stopped by {self.stopped_by}), {len(self.study.trials)} in the study"
        )
        if best is not None:
            text += (
                f"; best CV log loss {best.value:.5f} (trial {best.number}, "
                f"{TrialRecord.read(best).family or '?'})"
            )
        ensemble = self.ensemble
        if ensemble is not None:
            text += f"; ensemble {ensemble.honest_score:.5f} honest"
        return text

    def __repr__(self) -> str:
        return f"SearchResult({self._summary()})"

    def _repr_html_(self) -> str:
        """Notebook display: the summary and the top 10 of the leaderboard."""
        board = self.leaderboard().head(10)
        table = board.to_html(index=False, float_format=lambda x: f"{x:.5f}", na_rep="")
        return f"<p>{html.escape(self._summary())}</p>{table}"
