import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from automoa.exceptions import BudgetExhausted
from automoa.models import get_family
from automoa.search.deadline import Deadline


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(400, 10)) * rng.uniform(0.1, 50, size=10)).astype(np.float32)
    W = rng.normal(size=(10, 3))
    Y = ((X / X.std(0)) @ W + rng.normal(size=(400, 3)) > 1).astype(np.uint8)
    return X, Y


@pytest.mark.parametrize("class_weight", ["none", "balanced"])
def test_joint_fit_matches_sklearn_per_label(class_weight):
    X, Y = _data()
    fitted = get_family("linear")(C=0.3, class_weight=class_weight, max_iter=2000).fit(X, Y)
    Xs = (X - fitted.mean) / fitted.scale
    for label in range(Y.shape[1]):
        reference = LogisticRegression(
            C=0.3,
            class_weight=None if class_weight == "none" else "balanced",
            max_iter=2000,
            tol=1e-10,
        ).fit(Xs, Y[:, label])
        np.testing.assert_allclose(fitted.coef[:, label], reference.coef_[0], atol=2e-3)
        np.testing.assert_allclose(fitted.intercept[label], reference.intercept_[0], atol=2e-3)


def test_constant_labels_get_smoothed_prior():
    X, Y = _data()
    Y[:, 0] = 0
    proba = get_family("linear")().fit(X, Y).predict_proba(X)
    assert np.allclose(proba[:, 0], 1 / (len(X) + 2))


def test_stronger_regularisation_shrinks_coefficients():
    X, Y = _data()
    weak = get_family("linear")(C=10.0).fit(X, Y)
    strong = get_family("linear")(C=1e-3).fit(X, Y)
    assert np.abs(strong.coef).sum() < np.abs(weak.coef).sum()


def test_expired_deadline_stops_the_fit():
    X, Y = _data()
    with pytest.raises(BudgetExhausted):
        get_family("linear")().fit(X, Y, deadline=Deadline(1e-9))


@pytest.mark.parametrize("bad", [{"C": 0}, {"C": -1.0}, {"class_weight": "auto"}])
def test_bad_parameters_rejected(bad):
    with pytest.raises(ValueError):
        get_family("linear")(**bad)
