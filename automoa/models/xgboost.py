"""The ``xgboost`` family: gradient-boosted trees on the 2-D label matrix.

One booster fits all labels: ``multi_strategy`` is ``one_output_per_tree`` (one tree per label
per round, the default) or ``multi_output_tree`` (vector leaves, one tree per round for all
labels). Measured with xgboost-cpu 3.2 on 2 cores, vector-leaf trees were 15x slower on yeast
(14 labels) and over 10x slower on 206 labels, so the shipped spaces use one tree per label.

Boosting stops early on the validation fold's log loss; the deadline is checked every round,
and a fit that runs past it raises :class:`~automoa.exceptions.BudgetExhausted` so that the
trial is pruned, never scored on a partial CV. The booster is saved as XGBoost's UBJSON
bytes (a safe format, no pickle).

xgboost is imported only when a model is fitted or restored; install it with
``pip install automoa[xgboost]`` (CUDA-capable wheel) or ``automoa[xgboost-cpu]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from automoa.exceptions import ConfigError
from automoa.models.base import FittedModel, ModelFamily, ModelState, constructor_arguments
from automoa.models.fit_context import ConstantLabels
from automoa.models.registry import register
from automoa.threads import worker_threads

if TYPE_CHECKING:
    from automoa.models.fit_context import FitContext

MULTI_STRATEGIES = ("one_output_per_tree", "multi_output_tree")


INSTALL = "pip install 'automoa[xgboost]' (or 'automoa[xgboost-cpu]' on machines without a GPU)"


def _xgboost():
    try:
        import xgboost
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(f"model family 'xgboost' needs the xgboost package: {INSTALL}") from None
    return xgboost


class FittedXGBoost(FittedModel):
    """A booster for all labels, the constant ones included (see ``fits_constant_labels``)."""

    def __init__(self, booster, n_rounds: int) -> None:
        self.booster = booster
        self.n_rounds = int(n_rounds)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        xgb = _xgboost()
        proba = self.booster.predict(xgb.DMatrix(X), iteration_range=(0, self.n_rounds))
        return np.asarray(proba, dtype=np.float32).reshape(len(X), -1)

    def state(self) -> ModelState:
        raw = np.frombuffer(bytes(self.booster.save_raw("ubj")), dtype=np.uint8)
        return ModelState(
            "xgboost",
            {"n_rounds": self.n_rounds},
            {"booster_ubj": raw, **self.constant.arrays()},
        )

    @classmethod
    def from_state(cls, state: ModelState) -> FittedXGBoost:
        xgb = _xgboost()
        booster = xgb.Booster()
        booster.load_model(bytearray(state.arrays["booster_ubj"].tobytes()))
        model = cls(booster, state.meta["n_rounds"])
        return model.with_constant(ConstantLabels.from_arrays(state.arrays))


@register
class XGBoostFamily(ModelFamily):
    """Histogram gradient boosting for multi-label targets.

    Args:
        n_estimators: boosting rounds at most.
        learning_rate: shrinkage.
        max_depth: tree depth.
        min_child_weight: minimum hessian in a leaf (large values protect rare labels).
        subsample: row fraction per tree.
        colsample_bytree: column fraction per tree.
        reg_lambda: L2 penalty on leaf weights.
        reg_alpha: L1 penalty on leaf weights.
        multi_strategy: ``one_output_per_tree`` or ``multi_output_tree``.
        early_stopping_rounds: rounds without validation improvement before stopping.
        max_bin: histogram bins per feature.
        n_jobs: threads (0: the worker's share of the cores, see :mod:`automoa.threads`).
    """

    name = "xgboost"
    requires = ("xgboost", INSTALL)
    fitted_class = FittedXGBoost
    # One tree per label per round: leaving constant labels out would change the column
    # sampling of the others and the validation metric early stopping reads.
    fits_constant_labels = True

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        max_depth: int = 4,
        min_child_weight: float = 5.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.5,
        reg_lambda: float = 1.0,
        reg_alpha: float = 0.0,
        multi_strategy: str = "one_output_per_tree",
        early_stopping_rounds: int = 20,
        max_bin: int = 256,
        n_jobs: int = 0,
    ) -> None:
        if multi_strategy not in MULTI_STRATEGIES:
            raise ValueError(f"multi_strategy must be one of {MULTI_STRATEGIES}")
        if n_estimators < 1 or max_depth < 1 or early_stopping_rounds < 1:
            raise ValueError("n_estimators, max_depth and early_stopping_rounds must be >= 1")
        if not 0 < learning_rate <= 1 or not 0 < subsample <= 1 or not 0 < colsample_bytree <= 1:
            raise ValueError("learning_rate, subsample and colsample_bytree must be in (0, 1]")
        super().__init__(**constructor_arguments(locals()))

    def _fit(self, X: np.ndarray, Y: np.ndarray, ctx: FitContext) -> FittedXGBoost:
        xgb = _xgboost()
        p = self.params
        booster_params = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "multi_strategy": p["multi_strategy"],
            "learning_rate": p["learning_rate"],
            "max_depth": p["max_depth"],
            "min_child_weight": p["min_child_weight"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample_bytree"],
            "reg_lambda": p["reg_lambda"],
            "reg_alpha": p["reg_alpha"],
            "max_bin": p["max_bin"],
            "seed": ctx.seed,
            "device": "cuda" if ctx.device == "cuda" else "cpu",
        }
        # 0: this worker's share of the cores (not xgboost's default of all of them).
        booster_params["nthread"] = p["n_jobs"] or worker_threads()
        train = xgb.DMatrix(X, label=Y.astype(np.float32))
        evals, early = [], None
        if ctx.X_val is not None and ctx.Y_val is not None and len(ctx.X_val):
            evals = [(xgb.DMatrix(ctx.X_val, label=ctx.Y_val.astype(np.float32)), "valid")]
            early = p["early_stopping_rounds"]
        booster = xgb.train(
            booster_params,
            train,
            num_boost_round=p["n_estimators"],
            evals=evals,
            early_stopping_rounds=early,
            verbose_eval=False,
            callbacks=[_deadline_callback(xgb, ctx.deadline)],
        )
        n_rounds = booster.best_iteration + 1 if early else booster.num_boosted_rounds()
        return FittedXGBoost(booster, n_rounds)


def _deadline_callback(xgb, deadline):
    """A training callback that raises once the deadline has passed (checked every round)."""

    class DeadlineCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            deadline.check(f"xgboost round {epoch}")
            return False

    return DeadlineCallback()
