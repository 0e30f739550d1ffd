"""The ``ModelFamily.fit`` template: what a family's ``_fit`` is given and what it returns."""

import numpy as np
import pytest

from automoa.config import LossConfig
from automoa.deadline import Deadline
from automoa.exceptions import DataError
from automoa.metrics import prior_probabilities
from automoa.models import FitContext, ModelFamily
from automoa.models.prior import FittedPrior


class _Recording(ModelFamily):
    """Predicts 0.5 for every label it is given; keeps what ``_fit`` saw."""

    name = "test_recording"
    fitted_class = FittedPrior

    def __init__(self) -> None:
        super().__init__()
        self.seen: tuple[np.ndarray, FitContext] | None = None

    def _fit(self, X, Y, ctx):
        self.seen = (Y, ctx)
        return FittedPrior(np.full(Y.shape[1], 0.5))


class _RecordingAll(_Recording):
    fits_constant_labels = True


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 3)).astype(np.float32)
    Y = (rng.random((20, 5)) < 0.5).astype(np.uint8)
    Y[:, 1] = 0
    Y[:, 3] = 1
    Y_valid = np.ones((6, 5), dtype=np.uint8)
    Y_valid[0] = 0  # every label varies in the validation rows
    return X, Y, Y_valid


def test_fit_never_shows_a_constant_label_and_predicts_it_with_its_prior():
    X, Y, Y_valid = _data()
    family = _Recording()
    fitted = family.fit(X, Y, X_valid=X[:6], Y_valid=Y_valid)
    seen, ctx = family.seen
    np.testing.assert_array_equal(seen, Y[:, [0, 2, 4]])
    # Constant in the training fold decides, even where the validation rows vary.
    np.testing.assert_array_equal(ctx.Y_val, Y_valid[:, [0, 2, 4]])
    proba = fitted.predict_proba(X)
    assert proba.dtype == np.float32 and proba.shape == (20, 5)
    assert (proba[:, [0, 2, 4]] == 0.5).all()
    prior = prior_probabilities(Y).astype(np.float32)
    assert (proba[:, 1] == prior[1]).all() and (proba[:, 3] == prior[3]).all()


def test_context_carries_the_fit_arguments():
    X, Y, Y_valid = _data()
    deadline, loss = Deadline(60), LossConfig("focal", {})
    Y_aux, groups = np.zeros((15, 2), dtype=np.uint8), np.arange(15)
    family = _Recording()
    family.fit(
        X,
        Y,
        X_valid=X[:6],
        Y_valid=Y_valid,
        deadline=deadline,
        seed=7,
        device="cuda",
        loss=loss,
        Y_aux=Y_aux,
        groups=groups,
    )
    _, ctx = family.seen
    assert ctx.X_val is not None and len(ctx.X_val) == 6
    assert ctx.deadline is deadline and ctx.seed == 7 and ctx.device == "cuda"
    assert ctx.loss is loss and ctx.Y_aux is Y_aux and ctx.groups is groups
    family.fit(X, Y)
    _, ctx = family.seen
    assert ctx.X_val is None and ctx.Y_val is None and not ctx.deadline.expired()


def test_every_label_constant_leaves_nothing_to_fit():
    X, _, _ = _data()
    Y = np.zeros((20, 3), dtype=np.uint8)
    Y[:, 2] = 1
    family = _Recording()
    proba = family.fit(X, Y).predict_proba(X)
    assert family.seen[0].shape == (20, 0)
    prior = prior_probabilities(Y).astype(np.float32)
    np.testing.assert_array_equal(proba, np.tile(prior, (20, 1)))


def test_a_family_that_fits_constant_labels_gets_them_and_still_predicts_their_prior():
    X, Y, Y_valid = _data()
    family = _RecordingAll()
    proba = family.fit(X, Y, X_valid=X[:6], Y_valid=Y_valid).predict_proba(X)
    seen, ctx = family.seen
    np.testing.assert_array_equal(seen, Y)
    np.testing.assert_array_equal(ctx.Y_val, Y_valid)
    prior = prior_probabilities(Y).astype(np.float32)
    assert (proba[:, 1] == prior[1]).all() and (proba[:, [0, 2, 4]] == 0.5).all()


def test_the_prior_family_predicts_constant_labels_with_its_own_smoothing():
    from automoa.models import get_family

    X, Y, _ = _data()
    proba = get_family("prior")(smoothing=0.0).fit(X, Y).predict_proba(X[:2])
    rates = Y.mean(axis=0).astype(np.float32)  # 0 and 1 for the constant labels
    np.testing.assert_array_equal(proba, np.tile(rates, (2, 1)))


def test_arrays_that_do_not_fit_together_are_refused():
    X, Y, Y_valid = _data()
    with pytest.raises(DataError, match="same rows"):
        _Recording().fit(X[:-1], Y)
    with pytest.raises(DataError, match="Y_valid"):
        _Recording().fit(X, Y, X_valid=X[:6], Y_valid=Y_valid[:, :4])
    with pytest.raises(DataError, match="groups"):
        _Recording().fit(X, Y, groups=np.arange(21))
