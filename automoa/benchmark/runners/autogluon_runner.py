"""AutoGluon Tabular, one predictor per label (as in its multi-label tutorial)."""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from common import main


def fit_label(X, y, X_test, seconds, options, index):
    from autogluon.tabular import TabularPredictor

    columns = [f"f{i}" for i in range(X.shape[1])]
    train = pd.DataFrame(X, columns=columns)
    train["label"] = y
    predictor = TabularPredictor(
        label="label",
        problem_type="binary",
        eval_metric="log_loss",
        path=os.path.join(options["workdir"], f"label-{index:04d}"),
        verbosity=0,
    )
    predictor.fit(
        train,
        time_limit=seconds,
        presets=options.get("presets", "best_quality"),
        num_cpus=options["cores"],
        num_gpus=0,
    )
    proba = predictor.predict_proba(pd.DataFrame(X_test, columns=columns))
    return np.asarray(proba[1] if 1 in proba.columns else proba.iloc[:, -1])


if __name__ == "__main__":
    main(fit_label)
