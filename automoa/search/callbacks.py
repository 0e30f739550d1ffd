"""Optuna-style trial callbacks (trackers such as MLflow) passed through the search."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlparse

import optuna
from optuna.trial import FrozenTrial

from automoa.exceptions import ConfigError, StudyError

#: ``callback(study, frozen_trial)``, called after every trial, as ``Study.optimize`` does.
StudyCallback = Callable[[optuna.Study, FrozenTrial], None]

#: The metric's name in trackers.
METRIC_NAME = "cv_log_loss"
MLFLOW_EXTRA = "pip install 'automoa[mlflow]'"


def check_callbacks(callbacks: Sequence[Any] | None) -> tuple[StudyCallback, ...]:
    """The callbacks as a tuple, each checked to be callable.

    Raises:
        ConfigError: a callback that cannot be called.
    """
    if callbacks is None:
        return ()
    if callable(callbacks) or isinstance(callbacks, str | bytes):
        raise ConfigError("callbacks: expected a list of callables, got a single value")
    checked = tuple(callbacks)
    for index, callback in enumerate(checked):
        if not callable(callback):
            raise ConfigError(
                f"callbacks[{index}]: expected a callable(study, trial), got "
                f"{type(callback).__name__}"
            )
    return checked


def mlflow_callback(tracking_uri: str) -> StudyCallback:
    """optuna-integration's ``MLflowCallback`` logging every trial to ``tracking_uri``.

    Each trial becomes an MLflow run in the experiment named after the study, with its
    parameters and its CV log loss (``cv_log_loss``; pruned trials carry no value).

    Raises:
        ConfigError: optuna-integration or mlflow is not installed (naming the extra), or the
            URI is empty.
    """
    if not tracking_uri or not tracking_uri.strip():
        raise ConfigError("--mlflow: expected a tracking URI (e.g. sqlite:///mlflow.db)")
    try:
        import mlflow  # noqa: F401  (the callback needs it; its absence is the user's to fix)
        from optuna_integration.mlflow import MLflowCallback
    except ImportError as exc:
        raise ConfigError(
            f"--mlflow needs optuna-integration and mlflow ({exc.name} is missing): {MLFLOW_EXTRA}"
        ) from None
    scheme = urlparse(tracking_uri).scheme
    file_store = scheme in ("", "file") or len(scheme) == 1  # a path (C:\\ on Windows) or file:
    if file_store and os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").lower() != "true":
        raise ConfigError(
            f"--mlflow {tracking_uri}: MLflow keeps its file store read-only unless "
            "MLFLOW_ALLOW_FILE_STORE=true is set; set it, or give a sqlite:///FILE.db or "
            "http(s):// tracking URI"
        )
    with warnings.catch_warnings():  # the class is marked experimental by optuna-integration
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return MLflowCallback(tracking_uri=tracking_uri, metric_name=METRIC_NAME)


def run_callbacks(
    callbacks: Sequence[StudyCallback], study: optuna.Study, trial: FrozenTrial
) -> None:
    """Call each callback; a failure stops the search as one line naming the callback.

    Raises:
        StudyError: a callback raised (its message's first line is kept).
    """
    for callback in callbacks:
        try:
            callback(study, trial)
        except Exception as exc:
            name = getattr(callback, "__name__", type(callback).__name__)
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StudyError(
                f"callback {name} failed after trial {trial.number}: {first_line}"
            ) from None
