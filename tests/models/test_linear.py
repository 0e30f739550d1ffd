import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted
from automoa.models import get_family
from automoa.models.linear import inner_validation_rows, negative_subsample
from automoa.testing import check_model_family


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(400, 10)) * rng.uniform(0.1, 50, size=10)).astype(np.float32)
    W = rng.normal(size=(10, 3))
    Y = ((X / X.std(0)) @ W + rng.normal(size=(400, 3)) > 1).astype(np.uint8)
    return X, Y


def _mixed(seed=0, n=600):
    """Label 0: common and clean (wants a weak penalty); label 1: rare pure noise (strong)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    Y = np.zeros((n, 2), dtype=np.uint8)
    Y[:, 0] = X[:, :6] @ np.full(6, 1.5) + 0.3 * rng.normal(size=n) > 0
    Y[rng.choice(n, size=n // 15, replace=False), 1] = 1
    groups = np.repeat(np.arange(n // 3), 3)  # groups of 3 rows, as drugs
    return X, Y, groups


def _reference(Xs, y, C, class_weight="none"):
    return LogisticRegression(
        C=C, class_weight=None if class_weight == "none" else "balanced", max_iter=5000, tol=1e-10
    ).fit(Xs, y)


@pytest.mark.parametrize("class_weight", ["none", "balanced"])
def test_joint_fit_matches_sklearn_per_label(class_weight):
    X, Y = _data()
    fitted = get_family("linear")(C=0.3, class_weight=class_weight).fit(X, Y)
    Xs = (X - fitted.mean) / fitted.scale
    assert np.all(fitted.C == 0.3)
    for label in range(Y.shape[1]):
        reference = _reference(Xs, Y[:, label], 0.3, class_weight)
        np.testing.assert_allclose(fitted.coef[:, label], reference.coef_[0], atol=2e-3)
        np.testing.assert_allclose(fitted.intercept[label], reference.intercept_[0], atol=2e-3)


@pytest.mark.parametrize("class_weight", ["none", "balanced"])
def test_per_label_penalties_solve_each_label_to_its_own_optimum(class_weight):
    X, Y, groups = _mixed()
    fitted = get_family("linear")(class_weight=class_weight).fit(X, Y, groups=groups)
    assert fitted.C[0] != fitted.C[1]  # a real per-label penalty vector
    Xs = (X - fitted.mean) / fitted.scale
    for label in range(Y.shape[1]):
        reference = _reference(Xs, Y[:, label], fitted.C[label], class_weight)
        np.testing.assert_allclose(fitted.coef[:, label], reference.coef_[0], atol=2e-3)
        np.testing.assert_allclose(fitted.intercept[label], reference.intercept_[0], atol=2e-3)


def test_each_label_chooses_its_own_penalty():
    X, Y, groups = _mixed()
    family = get_family("linear")(C_min=1e-4, C_max=1.0, path_size=5)
    fitted = family.fit(X, Y, groups=groups)
    # The clean common label keeps its signal; the noise label is shrunk to its rate.
    assert fitted.C[0] >= 0.1 and fitted.C[1] == 1e-4
    assert set(fitted.C) <= set(family.path)


def test_outer_validation_fold_cannot_move_the_fit():
    X, Y, groups = _mixed()
    X_valid, Y_valid, _ = _mixed(seed=1, n=150)
    clean = get_family("linear")().fit(X, Y, X_valid=X_valid, Y_valid=Y_valid, groups=groups)
    poisoned = get_family("linear")().fit(
        X, Y, X_valid=X_valid[::-1] * 5, Y_valid=1 - Y_valid, groups=groups
    )
    np.testing.assert_array_equal(poisoned.C, clean.C)
    np.testing.assert_array_equal(poisoned.coef, clean.coef)
    np.testing.assert_array_equal(poisoned.intercept, clean.intercept)


def test_penalty_is_chosen_on_the_inner_validation_rows():
    X, Y, groups = _mixed()
    clean = get_family("linear")().fit(X, Y, groups=groups)
    inner = np.flatnonzero(inner_validation_rows(Y, groups, seed=0))
    # Shuffle the features among the inner-validation rows only: the split (made from Y and
    # groups), the standardisation and the inner-train rows stay as they were, but label 0's
    # signal no longer holds there, so it takes the strongest penalty.
    X_poisoned = X.copy()
    X_poisoned[inner] = X[np.random.default_rng(0).permutation(inner)]
    poisoned = get_family("linear")().fit(X_poisoned, Y, groups=groups)
    assert clean.C[0] > poisoned.C[0] == 1e-4
    assert poisoned.C[1] == clean.C[1]


def test_resampled_rows_never_choose_the_penalty():
    X, Y, groups = _mixed()
    clean = get_family("linear")().fit(X, Y, groups=groups)
    # Rows past len(groups) come from oversampling: poisoned copies of them move the final fit
    # but not the choice, because they sit on neither side of the inner split.
    extra = np.arange(0, 600, 2)
    X_more = np.vstack([X, X[extra]])
    Y_more = np.vstack([Y, 1 - Y[extra]])
    resampled = get_family("linear")().fit(X_more, Y_more, groups=groups)
    np.testing.assert_array_equal(resampled.C, clean.C)
    assert not np.array_equal(resampled.coef, clean.coef)


def test_inner_split_keeps_groups_whole():
    _, Y, groups = _mixed()
    inner = inner_validation_rows(Y, groups, seed=3)
    assert 0.1 < inner.mean() < 0.3
    for group in np.unique(groups):
        assert len(set(inner[groups == group])) == 1
    # Without groups, rows are split one by one (and still deterministically).
    assert np.array_equal(inner_validation_rows(Y, None, 3), inner_validation_rows(Y, None, 3))


def test_same_seed_same_model_and_groups_default_to_rows():
    X, Y, groups = _mixed()
    first = get_family("linear")().fit(X, Y, groups=groups, seed=5)
    again = get_family("linear")().fit(X, Y, groups=groups, seed=5)
    np.testing.assert_array_equal(first.coef, again.coef)
    np.testing.assert_array_equal(first.C, again.C)
    no_groups = get_family("linear")().fit(X, Y, seed=5)
    row_groups = get_family("linear")().fit(X, Y, groups=np.arange(len(X)), seed=5)
    np.testing.assert_array_equal(no_groups.coef, row_groups.coef)


def test_chosen_penalties_survive_the_state():
    X, Y, groups = _mixed()
    fitted = get_family("linear")().fit(X, Y, groups=groups)
    restored = type(fitted).from_state(fitted.state())
    np.testing.assert_array_equal(restored.C, fitted.C)
    np.testing.assert_array_equal(restored.predict_proba(X), fitted.predict_proba(X))


def test_constant_labels_get_smoothed_prior():
    X, Y = _data()
    Y[:, 0] = 0
    fitted = get_family("linear")().fit(X, Y)
    assert np.allclose(fitted.predict_proba(X)[:, 0], 1 / (len(X) + 2))
    C = fitted.state().arrays["C"]  # the saved format holds every label, NaN for constant ones
    assert np.isnan(C[0]) and np.isfinite(C[1:]).all()


def test_stronger_regularisation_shrinks_coefficients():
    X, Y = _data()
    weak = get_family("linear")(C=10.0).fit(X, Y)
    strong = get_family("linear")(C=1e-3).fit(X, Y)
    assert np.abs(strong.coef).sum() < np.abs(weak.coef).sum()


@pytest.mark.parametrize("params", [{}, {"C": 0.1}])
def test_expired_deadline_stops_the_fit(params):
    X, Y = _data()
    with pytest.raises(BudgetExhausted):
        get_family("linear")(**params).fit(X, Y, deadline=Deadline(1e-9))


@pytest.mark.parametrize(
    "bad",
    [
        {"C": 0},
        {"C": -1.0},
        {"class_weight": "auto"},
        {"C": 0.1, "C_max": 1.0},
        {"C_min": 0.1, "C_max": 0.1},
        {"C_min": 0.0},
        {"path_size": 1},
        {"max_iter": 0},
        {"negative_rate": 0.0},
        {"negative_rate": 1.5},
    ],
)
def test_bad_parameters_rejected(bad):
    with pytest.raises(ValueError):
        get_family("linear")(**bad)


@pytest.mark.parametrize("params", [{}, {"class_weight": "balanced"}, {"negative_rate": 0.5}])
def test_penalty_path_passes_conformance(params):
    # tests/models/test_conformance.py checks the fixed-C mode; this checks the default path.
    check_model_family(get_family("linear"), params)


def test_negative_subsample_keeps_every_positive_and_a_share_of_each_labels_negatives():
    Y = (np.random.default_rng(0).random((5000, 4)) < [0.01, 0.1, 0.3, 0.0]).astype(np.uint8)
    kept, share = negative_subsample(Y, 0.25, seed=1)
    assert np.all(kept[Y == 1] == 1)  # positives are never dropped
    negatives = Y == 0
    np.testing.assert_allclose(share, (kept * negatives).sum(0) / negatives.sum(0))
    assert np.all(np.abs(share - 0.25) < 0.03)
    assert not np.array_equal(kept[:, 0], kept[:, 1])  # each label draws its own rows
    again, _ = negative_subsample(Y, 0.25, seed=1)
    assert np.array_equal(kept, again)  # the seed decides


def test_undersampled_labels_match_sklearn_on_their_kept_rows_then_move_their_intercepts():
    X, Y = _data()
    fitted = get_family("linear")(C=0.3, negative_rate=0.5).fit(X, Y, seed=3)
    kept, share = negative_subsample(Y, 0.5, seed=3)
    Xs = (X - fitted.mean) / fitted.scale
    for label in range(Y.shape[1]):
        rows = kept[:, label] > 0
        assert rows.sum() < len(Y)  # this label really was fitted on fewer rows
        reference = _reference(Xs[rows], Y[rows, label], 0.3)
        np.testing.assert_allclose(fitted.coef[:, label], reference.coef_[0], atol=2e-3)
        # The prior correction: odds fitted on a share r of the negatives are 1/r too high.
        corrected = reference.intercept_[0] + np.log(share[label])
        np.testing.assert_allclose(fitted.intercept[label], corrected, atol=2e-3)


def test_undersampling_negatives_keeps_the_probabilities_calibrated():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12000, 6)).astype(np.float32)
    logits = X @ rng.normal(scale=0.6, size=(6, 3)) - np.array([3.5, 4.0, 4.5])  # rare labels
    Y = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))).astype(np.uint8)
    train, test = slice(0, 8000), slice(8000, None)

    def loss(P):
        P = np.clip(P, 1e-7, 1 - 1e-7)
        return -np.mean(Y[test] * np.log(P) + (1 - Y[test]) * np.log(1 - P))

    full = get_family("linear")().fit(X[train], Y[train])
    under = get_family("linear")(negative_rate=0.2).fit(X[train], Y[train], seed=0)
    P, P_full = under.predict_proba(X[test]), full.predict_proba(X[test])
    rate = P_full.mean(axis=0)  # the fit on every row
    assert np.all(np.abs(P.mean(axis=0) / rate - 1) < 0.15)  # calibrated on average
    assert loss(P) < 1.03 * loss(P_full)
    # Without the correction the predicted rates would be over twice too high.
    _, share = negative_subsample(Y[train], 0.2, seed=0)
    under.intercept = under.intercept - np.log(share).astype(np.float32)
    assert np.all(under.predict_proba(X[test]).mean(axis=0) > 2 * rate)
