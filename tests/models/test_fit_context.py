import dataclasses

import numpy as np
import pytest

from automoa.exceptions import DataError
from automoa.metrics import prior_probabilities
from automoa.models.fit_context import ConstantLabels, FitContext, check_fit_inputs


def _labels():
    Y = np.zeros((10, 4), dtype=np.uint8)
    Y[:3, 0] = 1  # varies
    Y[:, 2] = 1  # always on
    Y[5, 3] = 1  # one positive: varies
    return Y  # label 1: never on


def test_constant_labels_are_those_without_a_positive_or_a_negative():
    Y = _labels()
    constant = ConstantLabels.of(Y)
    assert constant.mask.tolist() == [False, True, True, False]
    assert constant.varying.tolist() == [0, 3]
    assert constant.rates.dtype == np.float32
    np.testing.assert_array_equal(constant.rates, prior_probabilities(Y).astype(np.float32))
    raw = ConstantLabels.of(Y, smoothing=0.0)
    assert raw.rates[1] == 0.0 and raw.rates[2] == 1.0


def test_splice_fills_the_constant_labels_with_their_rates():
    constant = ConstantLabels.of(_labels())
    varying = np.array([[0.2, 0.7], [0.4, 0.1]], dtype=np.float32)
    out = constant.splice(varying)
    assert out.dtype == np.float32 and out.shape == (2, 4)
    np.testing.assert_array_equal(out[:, [0, 3]], varying)
    np.testing.assert_array_equal(out[:, [1, 2]], np.tile(constant.rates[[1, 2]], (2, 1)))
    # A model of every label: its constant columns are replaced, its input left as it was.
    every = np.full((2, 4), 0.5, dtype=np.float32)
    np.testing.assert_array_equal(constant.splice(every), np.where(constant.mask, out, 0.5))
    assert (every == 0.5).all()
    with pytest.raises(DataError, match="predicted 3 labels"):
        constant.splice(np.zeros((2, 3), dtype=np.float32))


def test_expand_and_restrict_move_between_varying_and_all_labels():
    constant = ConstantLabels.of(_labels())
    coef = np.arange(6, dtype=np.float32).reshape(3, 2)
    wide = constant.expand(coef, 0.0)
    assert wide.dtype == np.float32 and wide.shape == (3, 4)
    assert (wide[:, [1, 2]] == 0).all()
    np.testing.assert_array_equal(constant.restrict(wide), coef)
    assert np.isnan(constant.expand(np.ones(2), np.nan)[[1, 2]]).all()


def test_constant_labels_survive_their_arrays():
    constant = ConstantLabels.of(_labels())
    again = ConstantLabels.from_arrays(constant.arrays())
    assert list(constant.arrays()) == ["constant_labels", "constant_rates"]
    np.testing.assert_array_equal(again.mask, constant.mask)
    np.testing.assert_array_equal(again.rates, constant.rates)


def test_fit_context_is_frozen_and_unlimited_by_default():
    ctx = FitContext()
    assert ctx.deadline.remaining() == float("inf") and not ctx.deadline.expired()
    ctx.deadline.check("nothing")  # never raises without a limit
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.seed = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"Y": np.zeros((9, 4), dtype=np.uint8)}, "same rows"),
        ({"X": np.zeros(10, dtype=np.float32)}, "same rows"),
        ({"Y_val": np.zeros((5, 3), dtype=np.uint8)}, "Y_valid: expected"),
        ({"X_val": np.zeros((4, 2), dtype=np.float32)}, "5 rows for 4 validation rows"),
        ({"Y_aux": np.zeros((11, 2), dtype=np.uint8)}, "Y_aux: 11 rows for 10"),
        ({"groups": np.arange(11)}, "groups: 11 rows for 10"),
    ],
)
def test_fit_inputs_of_the_wrong_shape_are_refused(change, message):
    arrays = {
        "X": np.zeros((10, 2), dtype=np.float32),
        "Y": _labels(),
        "X_val": np.zeros((5, 2), dtype=np.float32),
        "Y_val": np.zeros((5, 4), dtype=np.uint8),
        "Y_aux": np.zeros((8, 2), dtype=np.uint8),
        "groups": np.arange(8),
    }
    check_fit_inputs(**arrays)
    with pytest.raises(DataError, match=message):
        check_fit_inputs(**{**arrays, **change})
