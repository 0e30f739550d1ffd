"""Shared by the runner scripts: read a task, spread the budget over labels, write results.

Task file (``.npz``): ``X``, ``Y`` (training rows, known-negative rows already removed),
``X_test``; options (JSON): ``budget_seconds``, ``seed``, ``cores``, ``workdir``.
Result file (``.npz``): ``proba`` (n_test, L), ``fallback`` (labels predicted by their rate
because the system could not fit them), ``seconds`` per label.
"""

from __future__ import annotations

import json
import sys
import time
import traceback

import numpy as np


def main(fit_label) -> None:
    """Run ``fit_label`` on every label within the budget; argv: TASK OPTIONS_JSON RESULT."""
    task_path, options_path, result_path = sys.argv[1:4]
    with np.load(task_path, allow_pickle=False) as task:
        X, Y, X_test = task["X"], task["Y"], task["X_test"]
    with open(options_path) as handle:
        options = json.load(handle)
    deadline = time.monotonic() + float(options["budget_seconds"])
    n_labels = Y.shape[1]
    proba = np.empty((X_test.shape[0], n_labels))
    fallback = np.zeros(n_labels, dtype=bool)
    seconds = np.zeros(n_labels)
    for j in range(n_labels):
        started = time.monotonic()
        y = Y[:, j].astype(int)
        rate = (y.sum() + 1.0) / (len(y) + 2.0)
        # What is left, shared by the labels still to fit (the one-predictor-per-label recipe).
        share = max(1.0, (deadline - started) / (n_labels - j))
        if 0 < y.sum() < len(y):
            try:
                proba[:, j] = fit_label(X, y, X_test, share, options, j)
            except Exception:  # the system failed on this label: recorded, rate used instead
                traceback.print_exc(file=sys.stderr)
                proba[:, j], fallback[j] = rate, True
        else:
            proba[:, j], fallback[j] = rate, True
        seconds[j] = time.monotonic() - started
    np.savez(result_path, proba=proba, fallback=fallback, seconds=seconds)
