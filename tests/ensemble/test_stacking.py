import numpy as np
import pytest

from automoa.ensemble import Ensemble, honest_evaluation
from automoa.ensemble.stacking import HonestStacking, Stacker, fit_stacker, honest_stacking
from automoa.exceptions import AutomoaError, ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def _problem(n: int = 2000, n_labels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(true logits, labels drawn from them): about 8% positives."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-3.0, 1.5, size=(n, n_labels))
    Y = (rng.random(z.shape) < 1.0 / (1.0 + np.exp(-z))).astype(np.uint8)
    return z, Y


def _members(z: np.ndarray, seed: int = 1) -> list[np.ndarray]:
    """Two informative but miscalibrated members: overconfident and squashed."""
    rng = np.random.default_rng(seed)
    noisy = z + rng.normal(0.0, 0.7, z.shape)
    return [_sigmoid(3.0 * noisy), _sigmoid(noisy) ** 2]


def _ensemble(members: tuple[int, ...], weights: tuple[float, ...]) -> Ensemble:
    return Ensemble(members=members, weights=weights, score=0.0, trajectory=(0.0,))


def test_stacking_recalibrates_miscalibrated_members_out_of_fold():
    z, Y = _problem()
    oofs = _members(z)
    loaders = [lambda c=c: c for c in oofs]  # lazy candidates, fetched as needed
    fold_of = np.arange(len(Y)) % 4
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=6)
    stacked = honest_stacking(loaders, Y, fold_of, blend.ensembles, blend.folds)
    assert isinstance(stacked, HonestStacking)
    assert stacked.score < 0.9 * blend.score
    assert stacked.score == pytest.approx(mean_columnwise_log_loss(Y, stacked.oof), rel=1e-12)
    assert stacked.oof.dtype == np.float32 and stacked.oof.shape == Y.shape
    assert len(stacked.fold_scores) == 4 and stacked.folds == blend.folds
    assert all(s.fitted.all() for s in stacked.stackers)
    # The overconfident member's logit (x3) is scaled back down by about 3.
    stacker = fit_stacker(oofs, Y, [1.0, 0.0])
    assert stacker.coef.shape == (3, 2) and stacker.weights.tolist() == [1.0, 0.0]
    assert (stacker.coef.sum(axis=1) > 0.15).all() and (stacker.coef.sum(axis=1) < 0.6).all()


def test_a_calibrated_member_is_left_about_as_it_is():
    z, Y = _problem(n=3000, seed=2)
    oofs = [_sigmoid(z)]  # the true probabilities: nothing to learn
    fold_of = np.arange(len(Y)) % 3
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=1)
    stacked = honest_stacking(oofs, Y, fold_of, blend.ensembles, blend.folds)
    assert stacked.score > blend.score - 1e-3 * blend.score
    assert stacked.score < blend.score + 1e-2 * blend.score
    stacker = fit_stacker(oofs, Y, [1.0])
    np.testing.assert_allclose(stacker.coef[:, 0], 1.0, atol=0.15)
    np.testing.assert_allclose(stacker.intercept, 0.0, atol=0.3)


def test_labels_with_too_few_positives_keep_the_blend_exactly():
    z, Y = _problem(n=600, n_labels=4, seed=3)
    Y[:, 2] = 0
    Y[[5, 50, 500], 2] = 1
    Y[:, 3] = 1  # and too few negatives
    Y[[6, 60, 400, 599], 3] = 0
    members = _members(z, seed=4)
    ens = _ensemble((0, 1), (0.25, 0.75))
    stacker = fit_stacker(members, Y, ens.weights)
    assert stacker.fitted.tolist() == [True, True, False, False]
    assert not stacker.coef[2:].any() and not stacker.intercept[2:].any()
    pred = stacker.predict(members)
    blended = ens.blend(members)
    np.testing.assert_array_equal(pred[:, 2:], blended[:, 2:])
    assert not np.array_equal(pred[:, 0], blended[:, 0])
    assert fit_stacker(members, Y, ens.weights, min_positives=3).fitted.all()
    # Unnormalised weights are normalised.
    np.testing.assert_array_equal(fit_stacker(members, Y, [1, 3]).weights, [0.25, 0.75])


def test_a_failing_regression_falls_back_to_the_blend(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    def fail(self, X, y, sample_weight=None):
        raise ValueError("solver failed")

    monkeypatch.setattr(LogisticRegression, "fit", fail)
    z, Y = _problem(n=300, seed=5)
    members = _members(z)
    stacker = fit_stacker(members, Y, [0.5, 0.5])
    assert not stacker.fitted.any()
    expected = _ensemble((0, 1), (0.5, 0.5)).blend(members)
    np.testing.assert_array_equal(stacker.predict(members), expected)


def test_known_negative_rows_are_never_fitted_on_and_predicted_zero():
    z, Y = _problem(n=800, seed=6)
    kn = np.zeros(len(Y), dtype=bool)
    kn[::5] = True
    Y[kn] = 0
    members = _members(z)
    junk = [m.copy() for m in members]
    rng = np.random.default_rng(7)
    for m in junk:
        m[kn] = rng.random(m[kn].shape)
    stacker = fit_stacker(members, Y, [0.5, 0.5], known_negative=kn)
    same = fit_stacker(junk, Y, [0.5, 0.5], known_negative=kn)
    np.testing.assert_array_equal(same.coef, stacker.coef)
    np.testing.assert_array_equal(same.intercept, stacker.intercept)
    # Without the mask the junk rows are fitted on (the comparison above can fail).
    assert not np.allclose(fit_stacker(junk, Y, [0.5, 0.5]).coef, stacker.coef)
    pred = stacker.predict(junk, known_negative=kn)
    assert not pred[kn].any() and pred[~kn].min() > 0
    np.testing.assert_array_equal(pred[~kn], stacker.predict(members)[~kn])


def test_arrays_round_trip_through_npz(tmp_path):
    z, Y = _problem(n=500, n_labels=4, seed=8)
    Y[:, 3] = 0  # an unfitted label travels too
    members = _members(z)
    stacker = fit_stacker(members, Y, [0.3, 0.7])
    np.savez(tmp_path / "stacker.npz", **stacker.to_arrays())
    with np.load(tmp_path / "stacker.npz", allow_pickle=False) as data:
        loaded = Stacker.from_arrays(data)
    assert loaded.fitted.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(loaded.predict(members), stacker.predict(members))
    with pytest.raises(ValueError):
        stacker.coef[0, 0] = 1.0  # read-only: the dataclass is frozen


def test_honest_stacking_never_uses_a_folds_own_rows():
    z, Y = _problem(n=1200, seed=9)
    oofs = _members(z)
    fold_of = np.arange(len(Y)) % 3
    ensembles = [_ensemble((0, 1), (0.5, 0.5)), _ensemble((1,), (1.0,)), _ensemble((0,), (1.0,))]
    first = honest_stacking(oofs, Y, fold_of, ensembles, (2, 0, 1))
    # Other labels for fold 2: its own predictions cannot move, the other folds' do.
    in2 = fold_of == 2
    Y2 = Y.copy()
    Y2[in2] = np.random.default_rng(10).permutation(Y[in2])
    second = honest_stacking(oofs, Y2, fold_of, ensembles, (2, 0, 1))
    np.testing.assert_array_equal(second.oof[in2], first.oof[in2])
    assert not np.array_equal(second.oof[~in2], first.oof[~in2])
    # Fold 2 is predicted by ensembles[0]'s members and weights, fitted on folds 0 and 1.
    alone = fit_stacker(oofs, Y, [0.5, 0.5], rows=~in2)
    np.testing.assert_array_equal(first.oof[in2], alone.predict([c[in2] for c in oofs]))
    assert first.stackers[1].n_members == 1


def test_honest_stacking_without_fitted_labels_is_the_honest_blend():
    z, Y = _problem(n=600, seed=11)
    oofs = [*_members(z), _sigmoid(z + 0.5)]
    fold_of = np.arange(len(Y)) % 3
    kn = np.zeros(len(Y), dtype=bool)
    kn[::7] = True
    Y[kn] = 0
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=5, known_negative=kn)
    stacked = honest_stacking(
        oofs, Y, fold_of, blend.ensembles, blend.folds, known_negative=kn, min_positives=10**6
    )
    np.testing.assert_array_equal(stacked.oof, blend.oof)
    assert stacked.score == pytest.approx(blend.score, rel=1e-12)
    assert stacked.fold_scores == pytest.approx(blend.fold_scores, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, Y: fit_stacker([], Y, []), DataError, "at least one member"),
        (lambda m, Y: fit_stacker([m[0], m[1][:, :2]], Y, [1, 1]), DataError, r"member 1: has sh"),
        (lambda m, Y: fit_stacker([m[0] * 3], Y, [1]), DataError, r"member 0: has values in"),
        (lambda m, Y: fit_stacker(m, Y, [1.0]), ConfigError, "weights: expected 2"),
        (lambda m, Y: fit_stacker(m, Y, [1.0, -0.5]), ConfigError, "non-negative"),
        (lambda m, Y: fit_stacker(m, Y, [1, 1], C=0.0), ConfigError, "C: expected a positive"),
        (lambda m, Y: fit_stacker(m, Y, [1, 1], min_positives=0), ConfigError, "min_positives"),
        (lambda m, Y: fit_stacker(m, Y, [1, 1], rows=np.ones(5, bool)), DataError, "rows: exp"),
        (lambda m, Y: fit_stacker(m, Y, [1, 1], rows=np.zeros(60, bool)), DataError, "no row"),
        (lambda m, Y: fit_stacker(m, Y * 2, [1, 1]), DataError, "Y: expected labels 0 or 1"),
        (lambda m, Y: fit_stacker(m, Y, [1, 1]).predict(m[:1]), DataError, "expected 2 member"),
        (
            lambda m, Y: fit_stacker(m, Y, [1, 1]).predict([c[:, :2] for c in m]),
            DataError,
            "member 0: has 2 labels, expected 3",
        ),
        (
            lambda m, Y: Stacker.from_arrays({"coef": np.zeros((3, 2))}),
            ConfigError,
            "missing array",
        ),
        (
            lambda m, Y: Stacker.from_arrays(
                {**fit_stacker(m, Y, [1, 1]).to_arrays(), "intercept": np.zeros(4)}
            ),
            ConfigError,
            r"stacker intercept: expected shape \(3,\)",
        ),
        (
            lambda m, Y: honest_stacking(
                m, Y, np.arange(60) % 2, [_ensemble((0,), (1.0,))], [0, 1]
            ),
            ConfigError,
            "folds: expected one fold per ensemble",
        ),
        (
            lambda m, Y: honest_stacking(
                m, Y, np.arange(60) % 2, [_ensemble((0,), (1.0,))] * 2, [0, 2]
            ),
            ConfigError,
            r"folds: expected each fold of fold_of \[0, 1\] once",
        ),
        (
            lambda m, Y: honest_stacking(
                m, Y, np.arange(60) % 2, [_ensemble((5,), (1.0,))] * 2, [0, 1]
            ),
            DataError,
            "candidate 5 is missing",
        ),
    ],
)
def test_invalid_inputs_raise_one_line_errors(call, error, message):
    z, Y = _problem(n=60, seed=12)
    members = _members(z)
    with pytest.raises(error, match=message) as info:
        call(members, Y)
    assert isinstance(info.value, AutomoaError)
    assert "\n" not in str(info.value)


def test_blend_calibration_is_platt_scaling_of_the_weighted_blend():
    z, Y = _problem(n=3000, seed=5)
    rng = np.random.default_rng(6)
    noisy = z + rng.normal(0.0, 0.5, z.shape)
    oofs = [_sigmoid(2.5 * noisy), _sigmoid(2.5 * noisy + rng.normal(0, 0.3, z.shape))]
    fold_of = np.arange(len(Y)) % 4
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=4)
    calibrated = honest_stacking(oofs, Y, fold_of, blend.ensembles, blend.folds, features="blend")
    assert calibrated.score < 0.95 * blend.score  # overconfidence corrected out of fold
    stacker = fit_stacker(oofs, Y, [0.5, 0.5], features="blend")
    assert stacker.on_blend and stacker.coef.shape == (3, 1) and stacker.n_members == 2
    # One slope per label on the blend's logit, about 1 / 2.5 for these members.
    assert ((stacker.coef[:, 0] > 0.25) & (stacker.coef[:, 0] < 0.6)).all()
    blended = np.clip(0.5 * oofs[0].astype(np.float64) + 0.5 * oofs[1], 1e-6, 1 - 1e-6)
    expected_logit = stacker.intercept + stacker.coef[:, 0] * np.log(blended / (1 - blended))
    np.testing.assert_allclose(
        stacker.predict(oofs), 1 / (1 + np.exp(-expected_logit)), rtol=1e-4, atol=1e-6
    )
    restored = Stacker.from_arrays(stacker.to_arrays())
    assert restored.on_blend
    np.testing.assert_array_equal(restored.predict(oofs), stacker.predict(oofs))
    with pytest.raises(ConfigError, match="features: expected one of members, blend"):
        fit_stacker(oofs, Y, [0.5, 0.5], features="mlp")


def test_arrays_without_on_blend_load_as_member_stackers():
    z, Y = _problem(n=800, seed=7)
    members = _members(z)
    stacker = fit_stacker(members, Y, [0.5, 0.5])
    arrays = stacker.to_arrays()
    del arrays["on_blend"]
    restored = Stacker.from_arrays(arrays)
    assert not restored.on_blend
    np.testing.assert_array_equal(restored.predict(members), stacker.predict(members))
