"""FLAML AutoML, one model per label, optimising log loss."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from common import main


def fit_label(X, y, X_test, seconds, options, index):
    from flaml import AutoML

    automl = AutoML()
    automl.fit(
        X_train=X,
        y_train=y,
        task="classification",
        metric="log_loss",
        time_budget=seconds,
        n_jobs=options["cores"],
        seed=options["seed"] + index,
        verbose=0,
    )
    return np.asarray(automl.predict_proba(X_test))[:, 1]


if __name__ == "__main__":
    main(fit_label)
