import warnings

import numpy as np
import pytest

from automoa.ensemble import Ensemble, honest_evaluation
from automoa.ensemble.crosslabel import (
    CrossLabelStacker,
    HonestCrossLabel,
    fit_cross_label,
    honest_cross_label,
)
from automoa.ensemble.stacking import fit_stacker, honest_stacking
from automoa.exceptions import AutomoaError, ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(q) - np.log1p(-q)


def _ensemble(members: tuple[int, ...], weights: tuple[float, ...]) -> Ensemble:
    return Ensemble(members=members, weights=weights, score=0.0, trajectory=(0.0,))


def _coupled(n: int = 1500, seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """(labels, two members) over 4 labels: label 1's truth follows label 0's blend while its
    own predictions are noise; labels 0, 2 and 3 are predicted from their own truths."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-2.5, 1.5, size=(n, 4))
    members = []
    for _ in range(2):
        own = _sigmoid(z + rng.normal(0.0, 0.5, z.shape))
        own[:, 1] = _sigmoid(rng.normal(-2.0, 0.8, n))  # label 1's own blend: uninformative
        members.append(own)
    blend0 = 0.5 * members[0][:, 0].astype(np.float64) + 0.5 * members[1][:, 0]
    z[:, 1] = -1.5 + 1.5 * _logit(blend0)
    Y = (rng.random(z.shape) < 1.0 / (1.0 + np.exp(-z))).astype(np.uint8)
    return Y, members


def test_cross_label_uses_a_related_labels_prediction_out_of_fold():
    Y, oofs = _coupled()
    loaders = [lambda c=c: c for c in oofs]  # lazy candidates, fetched as needed
    fold_of = np.arange(len(Y)) % 4
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=4)
    platt = honest_stacking(oofs, Y, fold_of, blend.ensembles, blend.folds, features="blend")
    cross = honest_cross_label(loaders, Y, fold_of, blend.ensembles, blend.folds, n_neighbours=2)
    assert isinstance(cross, HonestCrossLabel)
    assert cross.oof.dtype == np.float32 and cross.oof.shape == Y.shape
    assert cross.score == pytest.approx(mean_columnwise_log_loss(Y, cross.oof), rel=1e-12)
    assert len(cross.fold_scores) == 4 and cross.folds == blend.folds
    assert all(s.neighbours[1, 0] == 0 and s.fitted.all() for s in cross.stackers)
    # Label 1 gains the most; the whole score beats the blend and per-label Platt scaling.
    loss1 = {
        name: mean_columnwise_log_loss(Y[:, 1:2], oof[:, 1:2])
        for name, oof in (("blend", blend.oof), ("platt", platt.oof), ("cross", cross.oof))
    }
    assert loss1["cross"] < 0.9 * loss1["platt"] and loss1["cross"] < 0.9 * loss1["blend"]
    assert cross.score < platt.score and cross.score < blend.score
    # Label 1's regression puts its weight on label 0's logit (neighbour 0), not its own.
    stacker = fit_cross_label(oofs, Y, [0.5, 0.5], n_neighbours=2)
    assert stacker.coef.shape == (4, 3) and stacker.neighbours.shape == (4, 2)
    assert stacker.coef[1, 1] > 1.0 and abs(stacker.coef[1, 0]) < 0.5


def test_neighbours_are_the_most_correlated_other_labels_on_the_fitting_rows():
    Y, oofs = _coupled(n=800, seed=1)
    rows = np.arange(len(Y)) % 3 != 0
    weights = [0.25, 0.75]
    stacker = fit_cross_label(oofs, Y, weights, rows=rows, n_neighbours=2)
    blended = 0.25 * oofs[0].astype(np.float64) + 0.75 * oofs[1]
    Zr, Yr = _logit(blended)[rows], Y[rows].astype(np.float64)
    for label in range(4):
        strength = [
            -1.0 if j == label else abs(np.corrcoef(Yr[:, label], Zr[:, j])[0, 1]) for j in range(4)
        ]
        assert stacker.neighbours[label].tolist() == list(np.argsort(strength)[::-1][:2])
        assert label not in stacker.neighbours[label]
    assert stacker.neighbours[1, 0] == 0
    # n_neighbours is capped at L - 1.
    capped = fit_cross_label(oofs, Y, weights, n_neighbours=10)
    assert capped.neighbours.shape == (4, 3) and capped.coef.shape == (4, 4)
    assert all(
        sorted(capped.neighbours[label]) == [j for j in range(4) if j != label]
        for label in range(4)
    )


def test_constant_columns_correlate_zero_and_ties_go_to_the_lower_index():
    Y, oofs = _coupled(n=600, seed=2)
    Y[:, 3] = 0  # a constant label: every correlation 0 (and too few positives to fit)
    oofs = [c.copy() for c in oofs]
    for c in oofs:
        c[:, 2] = 0.25  # constant blend columns: correlation 0 with every label
        c[:, 3] = 0.1
    stacker = fit_cross_label(oofs, Y, [0.5, 0.5], n_neighbours=2)
    assert stacker.neighbours[3].tolist() == [0, 1]  # all tied at 0
    assert stacker.neighbours[0].tolist() == [1, 2]  # 2 and 3 tied at 0: the lower index
    assert stacker.neighbours[1].tolist() == [0, 2]
    assert sorted(stacker.neighbours[2].tolist()) == [0, 1]
    assert not stacker.fitted[3]


def test_unfitted_labels_keep_the_blend_and_known_negative_rows_are_ignored():
    Y, members = _coupled(n=900, seed=3)
    Y[:, 2] = 0
    Y[[5, 50, 500], 2] = 1  # too few positives
    Y[:, 3] = 1  # and too few negatives
    Y[[6, 60, 400, 599], 3] = 0
    kn = np.zeros(len(Y), dtype=bool)
    kn[::7] = True
    kn[[5, 50, 500, 6, 60, 400, 599]] = False
    Y[kn] = 0
    ens = _ensemble((0, 1), (0.25, 0.75))
    stacker = fit_cross_label(members, Y, ens.weights, known_negative=kn, n_neighbours=2)
    assert stacker.fitted.tolist() == [True, True, False, False]
    assert not stacker.coef[2:].any() and not stacker.intercept[2:].any()
    pred = stacker.predict(members)
    blended = ens.blend(members)
    np.testing.assert_array_equal(pred[:, 2:], blended[:, 2:])
    assert not np.array_equal(pred[:, :2], blended[:, :2])
    # Junk on the known-negative rows changes neither the neighbours nor the fit.
    junk = [m.copy() for m in members]
    rng = np.random.default_rng(4)
    for m in junk:
        m[kn] = rng.random(m[kn].shape)
    same = fit_cross_label(junk, Y, ens.weights, known_negative=kn, n_neighbours=2)
    np.testing.assert_array_equal(same.neighbours, stacker.neighbours)
    np.testing.assert_array_equal(same.coef, stacker.coef)
    np.testing.assert_array_equal(same.intercept, stacker.intercept)
    # Without the mask the junk rows are fitted on (the comparison above can fail).
    assert not np.allclose(fit_cross_label(junk, Y, ens.weights, n_neighbours=2).coef, stacker.coef)
    masked = stacker.predict(junk, known_negative=kn)
    assert not masked[kn].any() and masked[~kn, :2].min() > 0
    np.testing.assert_array_equal(masked[~kn], pred[~kn])
    # Unnormalised weights are normalised.
    np.testing.assert_array_equal(fit_cross_label(members, Y, [1, 3]).weights, [0.25, 0.75])


def test_a_failing_or_unconverged_regression_keeps_the_blend(monkeypatch):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression

    Y, members = _coupled(n=400, seed=5)
    expected = _ensemble((0, 1), (0.5, 0.5)).blend(members)
    real_fit = LogisticRegression.fit

    def fail(self, X, y, sample_weight=None):
        raise ValueError("solver failed")

    monkeypatch.setattr(LogisticRegression, "fit", fail)
    stacker = fit_cross_label(members, Y, [0.5, 0.5])
    assert not stacker.fitted.any() and not stacker.coef.any()
    np.testing.assert_array_equal(stacker.predict(members), expected)

    def unconverged(self, X, y, sample_weight=None):
        real_fit(self, X, y, sample_weight)
        if np.array_equal(y, Y[:, 0].astype(bool)):  # label 0 only
            warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
        return self

    monkeypatch.setattr(LogisticRegression, "fit", unconverged)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the recorded warning does not escape
        stacker = fit_cross_label(members, Y, [0.5, 0.5])
    assert stacker.fitted.tolist() == [False, True, True, True]
    np.testing.assert_array_equal(stacker.predict(members)[:, 0], expected[:, 0])


def test_honest_cross_label_never_reads_a_folds_own_labels():
    Y, oofs = _coupled(n=1200, seed=6)
    fold_of = np.arange(len(Y)) % 3
    ensembles = [_ensemble((0, 1), (0.5, 0.5)), _ensemble((1,), (1.0,)), _ensemble((0,), (1.0,))]
    first = honest_cross_label(oofs, Y, fold_of, ensembles, (2, 0, 1), n_neighbours=2)
    # Flipped labels for fold 2: its own predictions cannot move, the other folds' do.
    in2 = fold_of == 2
    Y2 = Y.copy()
    Y2[in2] = 1 - Y[in2]
    second = honest_cross_label(oofs, Y2, fold_of, ensembles, (2, 0, 1), n_neighbours=2)
    np.testing.assert_array_equal(second.oof[in2], first.oof[in2])
    for fold in (0, 1):
        in_fold = fold_of == fold
        assert not np.array_equal(second.oof[in_fold], first.oof[in_fold])
    # Fold 2 is predicted by ensembles[0]'s members and weights, fitted on folds 0 and 1.
    alone = fit_cross_label(oofs, Y, [0.5, 0.5], rows=~in2, n_neighbours=2)
    np.testing.assert_array_equal(first.oof[in2], alone.predict([c[in2] for c in oofs]))
    np.testing.assert_array_equal(first.stackers[0].neighbours, alone.neighbours)
    assert first.stackers[1].n_members == 1


def test_honest_cross_label_without_fitted_labels_is_the_honest_blend():
    Y, oofs = _coupled(n=600, seed=7)
    oofs = [*oofs, np.clip(oofs[0] * 1.2, 0, 1)]
    fold_of = np.arange(len(Y)) % 3
    kn = np.zeros(len(Y), dtype=bool)
    kn[::7] = True
    Y[kn] = 0
    blend = honest_evaluation(oofs, Y, fold_of, max_iterations=5, known_negative=kn)
    cross = honest_cross_label(
        oofs, Y, fold_of, blend.ensembles, blend.folds, known_negative=kn, min_positives=10**6
    )
    np.testing.assert_array_equal(cross.oof, blend.oof)
    assert cross.score == pytest.approx(blend.score, rel=1e-12)
    assert cross.fold_scores == pytest.approx(blend.fold_scores, rel=1e-12)


def test_a_single_label_is_platt_scaling_of_the_blend():
    rng = np.random.default_rng(8)
    z = rng.normal(-2.5, 1.5, size=(1500, 1))
    Y = (rng.random(z.shape) < 1.0 / (1.0 + np.exp(-z))).astype(np.uint8)
    members = [_sigmoid(2.5 * (z + rng.normal(0, 0.4, z.shape))) for _ in range(2)]
    stacker = fit_cross_label(members, Y, [0.5, 0.5])
    assert stacker.neighbours.shape == (1, 0) and stacker.coef.shape == (1, 1)
    assert stacker.neighbours.dtype == np.int64 and stacker.fitted.all()
    platt = fit_stacker(members, Y, [0.5, 0.5], features="blend")
    np.testing.assert_allclose(stacker.coef, platt.coef, rtol=1e-5)
    np.testing.assert_allclose(stacker.intercept, platt.intercept, rtol=1e-5)
    np.testing.assert_allclose(stacker.predict(members), platt.predict(members), rtol=1e-5)
    fold_of = np.arange(len(Y)) % 3
    ensembles = [_ensemble((0, 1), (0.5, 0.5))] * 3
    honest = honest_cross_label(members, Y, fold_of, ensembles, (0, 1, 2))
    assert honest.score < mean_columnwise_log_loss(Y, ensembles[0].blend(members))


def test_arrays_round_trip_through_npz(tmp_path):
    Y, members = _coupled(n=600, seed=9)
    Y[:, 3] = 0  # an unfitted label travels too
    stacker = fit_cross_label(members, Y, [0.3, 0.7], n_neighbours=2)
    arrays = stacker.to_arrays()
    assert set(arrays) == {"neighbours", "coef", "intercept", "fitted", "weights", "kind"}
    assert all(a.dtype != object for a in arrays.values())
    np.savez(tmp_path / "cross.npz", **arrays)
    with np.load(tmp_path / "cross.npz", allow_pickle=False) as data:
        loaded = CrossLabelStacker.from_arrays(data)
    assert loaded.fitted.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(loaded.neighbours, stacker.neighbours)
    np.testing.assert_array_equal(loaded.predict(members), stacker.predict(members))
    kn = np.arange(len(Y)) % 5 == 0
    np.testing.assert_array_equal(
        loaded.predict(members, known_negative=kn), stacker.predict(members, known_negative=kn)
    )
    with pytest.raises(ValueError):
        stacker.neighbours[0, 0] = 1  # read-only: the dataclass is frozen
    # A single label (no neighbours) round-trips too.
    single = fit_cross_label([m[:, :1] for m in members], Y[:, :1], [0.3, 0.7])
    np.savez(tmp_path / "single.npz", **single.to_arrays())
    with np.load(tmp_path / "single.npz", allow_pickle=False) as data:
        restored = CrossLabelStacker.from_arrays(data)
    assert restored.neighbours.shape == (1, 0)
    np.testing.assert_array_equal(
        restored.predict([m[:, :1] for m in members]), single.predict([m[:, :1] for m in members])
    )


def _arrays(**changes: object) -> dict[str, object]:
    arrays = {
        "neighbours": np.array([[1], [2], [0]]),
        "coef": np.zeros((3, 2)),
        "intercept": np.zeros(3),
        "fitted": np.zeros(3, dtype=bool),
        "weights": np.array([0.5, 0.5]),
        "kind": np.array("cross_label"),
    }
    arrays.update(changes)
    return {key: value for key, value in arrays.items() if value is not None}


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (_arrays(neighbours=np.array([[1], [1], [0]])), "label 1 lists itself"),
        (_arrays(neighbours=np.array([[1], [3], [0]])), r"indices in \[0, 3\)"),
        (_arrays(neighbours=np.array([[1], [-1], [0]])), r"indices in \[0, 3\)"),
        (_arrays(neighbours=np.array([[1.0], [2.0], [0.0]])), "integer label indices"),
        (_arrays(neighbours=np.array([[1, 2], [2, 0], [0, 1]])), r"neighbours: expected shape"),
        (
            _arrays(neighbours=np.array([[1, 1], [2, 0], [0, 1]]), coef=np.zeros((3, 3))),
            "label 0 lists a neighbour more than once",
        ),
        (_arrays(neighbours=np.array([1, 2, 0])), r"neighbours: expected shape \(3, 1\)"),
        (_arrays(coef=np.zeros(3)), "coef: expected a non-empty"),
        (_arrays(intercept=np.zeros(4)), r"intercept: expected shape \(3,\)"),
        (_arrays(fitted=np.zeros(3)), "fitted: expected a boolean"),
        (_arrays(fitted=np.zeros(2, dtype=bool)), r"fitted: expected shape \(3,\)"),
        (_arrays(coef=np.full((3, 2), np.nan)), "expected finite values"),
        (_arrays(weights=np.array([0.5, 0.6])), "weights: expected a non-empty vector"),
        (_arrays(weights=np.zeros((1, 1)) + 1), "weights: expected a non-empty vector"),
        (_arrays(coef=None), "missing array.*coef"),
        (_arrays(kind=None), "missing array.*kind"),
        (_arrays(kind=np.array("stacker")), "kind: expected 'cross_label'"),
        (_arrays(kind=np.array(["cross_label"])), "kind: expected 'cross_label'"),
    ],
)
def test_malformed_arrays_raise_config_errors(arrays, message):
    with pytest.raises(ConfigError, match=message) as info:
        CrossLabelStacker.from_arrays(arrays)
    assert "\n" not in str(info.value) and "cross-label stacker" in str(info.value)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, Y: fit_cross_label([], Y, []), DataError, "at least one member"),
        (lambda m, Y: fit_cross_label([m[0], m[1][:, :2]], Y, [1, 1]), DataError, "member 1: "),
        (lambda m, Y: fit_cross_label([m[0] * 3], Y, [1]), DataError, "member 0: has values in"),
        (lambda m, Y: fit_cross_label(m, Y, [1.0]), ConfigError, "weights: expected 2"),
        (lambda m, Y: fit_cross_label(m, Y, [1.0, -0.5]), ConfigError, "non-negative"),
        (lambda m, Y: fit_cross_label(m, Y, [1, 1], C=0.0), ConfigError, "C: expected a pos"),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1], min_positives=0),
            ConfigError,
            "min_positives",
        ),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1], n_neighbours=-1),
            ConfigError,
            "n_neighbours: expected an integer >= 0",
        ),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1], n_neighbours=1.5),
            ConfigError,
            "n_neighbours",
        ),
        (lambda m, Y: fit_cross_label(m, Y, [1, 1], rows=np.ones(5, bool)), DataError, "rows: "),
        (lambda m, Y: fit_cross_label(m, Y, [1, 1], rows=np.zeros(60, bool)), DataError, "no row"),
        (lambda m, Y: fit_cross_label(m, Y * 2, [1, 1]), DataError, "Y: expected labels 0 or 1"),
        (lambda m, Y: fit_cross_label(m, Y, [1, 1]).predict(m[:1]), DataError, "expected 2 mem"),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1]).predict([c[:, :2] for c in m]),
            DataError,
            "member 0: has 2 labels, expected 4",
        ),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1]).predict([m[0], m[1][:10]]),
            DataError,
            "member 1: has shape",
        ),
        (
            lambda m, Y: fit_cross_label(m, Y, [1, 1]).predict(m, known_negative=np.ones(3, bool)),
            DataError,
            "known_negative: expected a boolean mask",
        ),
        (
            lambda m, Y: honest_cross_label(
                m, Y, np.arange(60) % 2, [_ensemble((0,), (1.0,))], [0, 1]
            ),
            ConfigError,
            "folds: expected one fold per ensemble",
        ),
        (
            lambda m, Y: honest_cross_label(
                m, Y, np.arange(60) % 2, [_ensemble((0,), (1.0,))] * 2, [0, 2]
            ),
            ConfigError,
            r"folds: expected each fold of fold_of \[0, 1\] once",
        ),
        (
            lambda m, Y: honest_cross_label(
                m, Y, np.arange(60) % 2, [_ensemble((5,), (1.0,))] * 2, [0, 1]
            ),
            DataError,
            "candidate 5 is missing",
        ),
    ],
)
def test_invalid_inputs_raise_one_line_errors(call, error, message):
    Y, members = _coupled(n=60, seed=10)
    with pytest.raises(error, match=message) as info:
        call(members, Y)
    assert isinstance(info.value, AutomoaError)
    assert "\n" not in str(info.value)
