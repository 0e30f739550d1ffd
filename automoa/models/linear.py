"""The ``linear`` family: one L2-regularised logistic regression per label.

The L per-label problems are independent, so their summed objective is minimised in one L-BFGS
run over all labels at once: one (n, d) x (d, L) product per iteration instead of L separate
scikit-learn fits. Each label's optimum is the same as fitting it alone (the objective is
separable); ``tests/models/test_linear.py`` checks this against scikit-learn's
``LogisticRegression``. Features are standardised with training-fold statistics inside the model.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
from threadpoolctl import threadpool_limits

from automoa.exceptions import BudgetExhausted
from automoa.metrics import prior_probabilities
from automoa.models.base import FittedModel, ModelFamily, ModelState
from automoa.models.registry import register

CLASS_WEIGHTS = ("none", "balanced")


class FittedLinear(FittedModel):
    """Standardisation followed by per-label logistic regression.

    Labels that were constant in the training fold are predicted with their smoothed prior.
    """

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        coef: np.ndarray,
        intercept: np.ndarray,
        constant_labels: np.ndarray,
        constant_rates: np.ndarray,
    ) -> None:
        self.mean = mean
        self.scale = scale
        self.coef = coef
        self.intercept = intercept
        self.constant_labels = constant_labels.astype(bool)
        self.constant_rates = constant_rates

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        Z = ((X - self.mean) / self.scale) @ self.coef + self.intercept
        P = expit(Z).astype(np.float32)
        P[:, self.constant_labels] = self.constant_rates[self.constant_labels]
        return P

    def state(self) -> ModelState:
        return ModelState(
            "linear",
            {},
            {
                "mean": self.mean,
                "scale": self.scale,
                "coef": self.coef,
                "intercept": self.intercept,
                "constant_labels": self.constant_labels,
                "constant_rates": self.constant_rates,
            },
        )

    @classmethod
    def from_state(cls, state: ModelState) -> FittedLinear:
        return cls(**state.arrays)


def _sample_weights(Y: np.ndarray, class_weight: str) -> np.ndarray | None:
    """Per-cell weights; ``balanced`` gives each class of each label half the total weight."""
    if class_weight == "none":
        return None
    n = Y.shape[0]
    pos = Y.sum(axis=0).clip(min=1)
    neg = (n - Y.sum(axis=0)).clip(min=1)
    return np.where(Y == 1, n / (2.0 * pos), n / (2.0 * neg)).astype(np.float32)


@register
class LinearFamily(ModelFamily):
    """Per-label logistic regression with L2 penalty.

    Args:
        C: inverse regularisation strength, as in scikit-learn (``C * sum(loss) + ||w||^2 / 2``).
        class_weight: ``"none"`` or ``"balanced"`` (per label, as scikit-learn's ``balanced``).
        max_iter: L-BFGS iterations at most. Stopping early is itself a regulariser: on rare
            labels 50 iterations often validate better than full convergence.
    """

    name = "linear"
    fitted_class = FittedLinear

    def __init__(self, C: float = 1.0, class_weight: str = "none", max_iter: int = 100) -> None:
        if C <= 0:
            raise ValueError(f"C must be > 0, got {C}")
        if max_iter < 1:
            raise ValueError(f"max_iter must be >= 1, got {max_iter}")
        if class_weight not in CLASS_WEIGHTS:
            raise ValueError(f"class_weight must be one of {CLASS_WEIGHTS}, got {class_weight!r}")
        super().__init__(C=C, class_weight=class_weight, max_iter=max_iter)
        self.C = float(C)
        self.class_weight = class_weight
        self.max_iter = int(max_iter)

    def fit(
        self,
        X,
        Y,
        *,
        X_valid=None,
        Y_valid=None,
        deadline=None,
        seed=0,
        device="cpu",
        loss=None,
        Y_aux=None,
        groups=None,
    ):
        mean = X.mean(axis=0, dtype=np.float64).astype(np.float32)
        scale = X.std(axis=0, dtype=np.float64).astype(np.float32)
        scale[scale == 0] = 1.0
        # float32 products: twice as fast as float64, and precise enough for log loss.
        Xs = ((X - mean) / scale).astype(np.float32)
        n, d = Xs.shape
        positives = Y.sum(axis=0)
        constant = (positives == 0) | (positives == n)
        rates = prior_probabilities(Y).astype(np.float32)
        fit_labels = np.flatnonzero(~constant)
        Yf = Y[:, fit_labels].astype(np.float32)
        weights = _sample_weights(Y[:, fit_labels], self.class_weight)
        n_labels = len(fit_labels)
        # Objective scaled by 1/(C n): the same optimum as sklearn's, better conditioned.
        penalty = 1.0 / (self.C * n)

        def loss_and_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
            W = theta[: d * n_labels].reshape(d, n_labels).astype(np.float32)
            b = theta[d * n_labels :].astype(np.float32)
            Z = Xs @ W + b
            cell_loss = np.logaddexp(np.float32(0.0), Z) - Yf * Z
            residual = expit(Z) - Yf
            if weights is not None:
                cell_loss *= weights
                residual *= weights
            loss = cell_loss.sum(dtype=np.float64) / n + 0.5 * penalty * np.sum(
                np.square(W, dtype=np.float64)
            )
            grad_W = Xs.T @ residual / n + penalty * W
            grad_b = residual.sum(axis=0, dtype=np.float64) / n
            return loss, np.concatenate([grad_W.ravel(), grad_b])

        def check_budget(_: np.ndarray) -> None:
            if deadline is not None and deadline.expired():
                raise BudgetExhausted("linear: the deadline passed during L-BFGS")

        theta0 = np.zeros(d * n_labels + n_labels)
        # Start intercepts at the log-odds of the rate: fewer iterations for rare labels.
        theta0[d * n_labels :] = np.log(rates[fit_labels] / (1 - rates[fit_labels]))
        coef = np.zeros((d, Y.shape[1]), dtype=np.float32)
        intercept = np.zeros(Y.shape[1], dtype=np.float32)
        if n_labels:
            # One BLAS thread: OpenBLAS threading costs more than it saves on these products
            # (measured on 2 cores: 10x faster on yeast, 1.5x on 1600 x 875 x 206 labels).
            with threadpool_limits(limits=1, user_api="blas"):
                result = minimize(
                    loss_and_grad,
                    theta0,
                    jac=True,
                    method="L-BFGS-B",
                    callback=check_budget,
                    options={"maxiter": self.max_iter},
                )
            coef[:, fit_labels] = result.x[: d * n_labels].reshape(d, n_labels)
            intercept[fit_labels] = result.x[d * n_labels :]
        return FittedLinear(mean, scale, coef, intercept, constant, rates)
