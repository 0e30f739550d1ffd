import numpy as np
import pytest

from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted
from automoa.metrics import mean_columnwise_log_loss, prior_probabilities
from automoa.models import get_family


def _data(seed=0, n=600):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    Y = np.column_stack([X[:, 0] > 0.5, X[:, 1] * X[:, 2] > 0.3, X[:, 3] > 1.5]).astype(np.uint8)
    return X, Y


@pytest.mark.parametrize("strategy", ["multi_output_tree", "one_output_per_tree"])
def test_learns_nonlinear_labels_better_than_the_prior(strategy):
    X, Y = _data()
    Xv, Yv = _data(seed=1, n=300)
    model = get_family("xgboost")(n_estimators=200, multi_strategy=strategy).fit(
        X, Y, X_valid=Xv, Y_valid=Yv, seed=0
    )
    proba = model.predict_proba(Xv)
    prior = np.tile(prior_probabilities(Y), (len(Xv), 1))
    assert mean_columnwise_log_loss(Yv, proba) < 0.6 * mean_columnwise_log_loss(Yv, prior)


def test_early_stopping_on_the_validation_fold():
    X, Y = _data()
    Xv, Yv = _data(seed=1, n=300)
    model = get_family("xgboost")(
        n_estimators=2000, learning_rate=0.3, early_stopping_rounds=5
    ).fit(X, Y, X_valid=Xv, Y_valid=Yv)
    assert model.n_rounds < 2000


def test_deadline_is_checked_every_round():
    X, Y = _data()
    ticks = iter([0.0] * 4)  # the deadline passes after a few rounds

    def clock():
        return next(ticks, 100.0)

    with pytest.raises(BudgetExhausted, match="round"):
        get_family("xgboost")(n_estimators=500).fit(X, Y, deadline=Deadline(10, clock=clock))


def test_constant_labels_get_their_prior():
    X, Y = _data()
    Y[:, 2] = 0
    proba = get_family("xgboost")(n_estimators=10).fit(X, Y).predict_proba(X)
    assert np.allclose(proba[:, 2], 1 / (len(X) + 2))


@pytest.mark.parametrize(
    "bad",
    [{"multi_strategy": "stacked"}, {"learning_rate": 0}, {"subsample": 1.5}, {"n_estimators": 0}],
)
def test_bad_parameters(bad):
    with pytest.raises(ValueError):
        get_family("xgboost")(**bad)
