import json

import numpy as np
import pytest

from automoa.ensemble import Ensemble, honest_evaluation, honest_score, select
from automoa.ensemble.selection import _pick
from automoa.exceptions import AutomoaError, ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss


def _labels(n: int = 400, n_labels: int = 6, rate: float = 0.2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.random((n, n_labels)) < rate).astype(np.uint8)


def _noisy(Y: np.ndarray, quality: float, seed: int) -> np.ndarray:
    """Probabilities that lean toward the truth by ``quality`` (0: pure noise)."""
    rng = np.random.default_rng(seed)
    logit = quality * (2.0 * Y - 1.0) * 3.0 + rng.normal(0.0, 1.5, Y.shape) - 1.0
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)


def _near_perfect(Y: np.ndarray) -> np.ndarray:
    return np.where(Y == 1, 0.95, 0.05).astype(np.float32)


def test_picks_the_near_perfect_candidate_among_noise():
    Y = _labels()
    oofs = [_noisy(Y, 0.0, s) for s in range(4)]
    oofs.insert(2, _near_perfect(Y))
    ens = select(oofs, Y, max_iterations=10)
    assert ens.members == (2,)
    assert ens.weights == (1.0,)


def test_complementary_candidates_blend_half_and_half_and_beat_both():
    Y = _labels(seed=1)
    good, prior = _near_perfect(Y), np.full(Y.shape, 0.2, dtype=np.float32)
    a = np.concatenate([good[:, :3], prior[:, 3:]], axis=1)
    b = np.concatenate([prior[:, :3], good[:, 3:]], axis=1)
    oofs = [_noisy(Y, 0.2, 7), a, b]
    ens = select(oofs, Y, max_iterations=20)
    assert ens.members == (1, 2)
    assert ens.weights == pytest.approx((0.5, 0.5), abs=0.15)
    assert ens.score < min(mean_columnwise_log_loss(Y, a), mean_columnwise_log_loss(Y, b))


def test_score_is_the_metric_of_the_blend():
    Y = _labels(seed=2)
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.2, 0.4, 0.5, 0.3])]
    ens = select(oofs, Y, max_iterations=15)
    blended = ens.blend(oofs)
    assert blended.dtype == np.float32 and blended.shape == Y.shape
    assert ens.score == pytest.approx(mean_columnwise_log_loss(Y, blended), rel=1e-12)
    assert len(ens.members) > 1 and sum(ens.weights) == pytest.approx(1.0)


def test_trajectory_is_truncated_at_its_minimum():
    Y = _labels(seed=3)
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.3, 0.5, 0.45, 0.1, 0.4])]
    ens = select(oofs, Y, max_iterations=12)
    assert len(ens.trajectory) == 12
    # The fast evaluation agrees with the metric to ~1e-8; the score is the metric itself.
    assert ens.score == pytest.approx(min(ens.trajectory), rel=1e-6)
    kept = int(np.argmin(ens.trajectory)) + 1
    counts = np.array(ens.weights) * kept
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    # The first iteration is the best single candidate.
    singles = [mean_columnwise_log_loss(Y, c) for c in oofs]
    assert ens.trajectory[0] == pytest.approx(min(singles), rel=1e-6)


def test_ties_go_to_a_current_member_then_to_the_lowest_index():
    scores = np.array([0.5, 0.3, 0.3, 0.3])
    subset = np.array([0, 1, 2, 3])
    assert _pick(scores, subset, {}) == 1
    assert _pick(scores, subset, {3: 2, 0: 1}) == 3
    # Identical candidates: the weight never splits between the twins.
    Y = _labels(seed=4)
    good, prior = _near_perfect(Y), np.full(Y.shape, 0.2, dtype=np.float32)
    a = np.concatenate([good[:, :3], prior[:, 3:]], axis=1)
    b = np.concatenate([prior[:, :3], good[:, 3:]], axis=1)
    ens = select([a, a.copy(), b, b.copy()], Y, max_iterations=20)
    assert ens.members == (0, 2)


def test_bagging_is_deterministic_for_a_seed_and_varies_across_seeds():
    Y = _labels(n=200, seed=5)
    oofs = [_noisy(Y, q, s) for s, q in enumerate(np.linspace(0.1, 0.6, 10))]
    kwargs = {"max_iterations": 8, "bagging_rounds": 3, "bagging_fraction": 0.3}
    first = select(oofs, Y, seed=0, **kwargs)
    assert select(oofs, Y, seed=0, **kwargs) == first
    other = select(oofs, Y, seed=1, **kwargs)
    assert other.weights != first.weights or other.members != first.members
    assert sum(first.weights) == pytest.approx(1.0)
    assert len(first.trajectory) == 8


def test_memmap_and_lazy_candidates_give_the_same_ensemble(tmp_path):
    Y = _labels(seed=6)
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.3, 0.5, 0.4])]
    paths = []
    for i, c in enumerate(oofs):
        paths.append(tmp_path / f"oof{i}.npy")
        np.save(paths[-1], c)
    mapped = [np.load(p, mmap_mode="r") for p in paths]
    loaders = [lambda p=p: np.load(p) for p in paths]
    expected = select(oofs, Y, max_iterations=10)
    assert select(mapped, Y, max_iterations=10) == expected
    assert select(loaders, Y, max_iterations=10) == expected
    np.testing.assert_array_equal(expected.blend(mapped), expected.blend(oofs))


def test_threads_give_the_same_ensemble():
    Y = _labels(seed=7)
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.3, 0.5, 0.4, 0.2])]
    assert select(oofs, Y, max_iterations=8, n_jobs=2) == select(oofs, Y, max_iterations=8)


def test_known_negative_rows_are_predicted_zero():
    Y = _labels(seed=8)
    kn = np.zeros(Y.shape[0], dtype=bool)
    kn[::10] = True
    Y[kn] = 0
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.3, 0.5, 0.4])]
    junk = [c.copy() for c in oofs]
    for c in junk:
        c[kn] = 1.0  # whatever candidates say on these rows is ignored
    ens = select(oofs, Y, max_iterations=10, known_negative=kn)
    assert select(junk, Y, max_iterations=10, known_negative=kn) == ens
    blended = ens.blend(junk, known_negative=kn)
    assert not blended[kn].any()
    assert ens.score == pytest.approx(mean_columnwise_log_loss(Y, blended), rel=1e-12)


def test_sorted_initialisation_keeps_the_best_singles():
    Y = _labels(seed=9)
    oofs = [_noisy(Y, q, s) for s, q in enumerate([0.1, 0.5, 0.45, 0.15])]
    ens = select(oofs, Y, max_iterations=6, init_best=3)
    assert {1, 2, 3} <= set(ens.members)
    assert ens.score == pytest.approx(min(ens.trajectory[2:]), rel=1e-6)


def test_honest_score_is_worse_than_the_hill_climbing_score_when_overfitting():
    Y = _labels(n=60, n_labels=3, rate=0.3, seed=10)
    oofs = [_noisy(Y, 0.05, s) for s in range(30)]
    fold_of = np.arange(60) % 5
    ens = select(oofs, Y, max_iterations=15)
    honest = honest_evaluation(oofs, Y, fold_of, max_iterations=15)
    assert honest.score > ens.score
    assert honest_score(oofs, Y, fold_of, max_iterations=15) == honest.score
    assert honest.folds == (0, 1, 2, 3, 4) and len(honest.fold_scores) == 5
    assert len(honest.ensembles) == 5


def test_to_dict_round_trips_through_json():
    Y = _labels(seed=11)
    ens = select([_noisy(Y, 0.4, 0), _noisy(Y, 0.3, 1)], Y, max_iterations=5)
    assert Ensemble.from_dict(json.loads(json.dumps(ens.to_dict()))) == ens
    with pytest.raises(ConfigError, match="missing key"):
        Ensemble.from_dict({"members": [0]})


@pytest.mark.parametrize(
    ("oofs", "kwargs", "error", "message"),
    [
        ([], {}, DataError, "no candidates"),
        ("misaligned", {}, DataError, r"candidate 1: has shape \(40, 3\), expected \(40, 4\)"),
        ("nan", {}, DataError, "candidate 0: contains NaN"),
        ("range", {}, DataError, r"candidate 0: has values in \[0, 1.5\]"),
        ("ok", {"max_iterations": 0}, ConfigError, "max_iterations"),
        ("ok", {"init_best": 3}, ConfigError, "init_best"),
        ("ok", {"bagging_fraction": 0.0}, ConfigError, "bagging_fraction"),
        ("ok", {"known_negative": np.ones(40, dtype=bool)}, DataError, "known-negative"),
    ],
)
def test_invalid_inputs_raise_one_line_errors(oofs, kwargs, error, message):
    Y = np.zeros((40, 4), dtype=np.uint8)
    Y[::3, 1] = 1
    good = np.full((40, 4), 0.3, dtype=np.float32)
    if oofs == "misaligned":
        oofs = [good, good[:, :3]]
    elif oofs == "nan":
        oofs = [good.copy()]
        oofs[0][5, 2] = np.nan
    elif oofs == "range":
        oofs = [good.copy()]
        oofs[0][0, 0] = 1.5
        oofs[0][0, 1] = 0.0
    elif oofs == "ok":
        oofs = [good, good]
    with pytest.raises(error, match=message) as info:
        select(oofs, Y, **kwargs)
    assert isinstance(info.value, AutomoaError)
    assert "\n" not in str(info.value)


def test_honest_score_rejects_bad_folds_and_options():
    Y = _labels(n=40, seed=12)
    oofs = [_noisy(Y, 0.3, 0)]
    with pytest.raises(ConfigError, match="at least 2 folds"):
        honest_score(oofs, Y, np.zeros(40, dtype=int))
    with pytest.raises(DataError, match="fold_of"):
        honest_score(oofs, Y, np.zeros(39, dtype=int))
    with pytest.raises(ConfigError, match="unknown option"):
        honest_score(oofs, Y, np.arange(40) % 2, iterations=3)


def test_shortlist_screening_picks_what_exact_scoring_picks():
    # Many noisy candidates around a signal: screening (one chunk in eight for negatives) must
    # lead to the same ensemble as scoring every candidate exactly.
    rng = np.random.default_rng(3)
    n, labels = 6000, 30  # several evaluation chunks
    logit = rng.normal(-5.0, 1.5, size=(n, labels))
    Y = (rng.random((n, labels)) < 1 / (1 + np.exp(-logit))).astype(np.uint8)
    oofs = [
        (1 / (1 + np.exp(-(logit + rng.normal(0, s, size=logit.shape))))).astype(np.float32)
        for s in np.linspace(0.3, 2.0, 40)
    ]
    exact = select(oofs, Y, max_iterations=15, shortlist=0)
    screened = select(oofs, Y, max_iterations=15, shortlist=10)
    assert screened.members == exact.members
    assert screened.weights == pytest.approx(exact.weights)
    assert screened.score == pytest.approx(exact.score, rel=1e-9)
    # A very short list can miss a diverse member, at a small cost.
    tight = select(oofs, Y, max_iterations=15, shortlist=5)
    assert exact.score <= tight.score <= exact.score * 1.001


def test_shortlist_must_be_a_count():
    with pytest.raises(ConfigError, match="shortlist"):
        select([np.full((4, 2), 0.5, dtype=np.float32)], np.zeros((4, 2)), shortlist=-1)


def test_patience_stops_greedy_selection_after_that_many_steps_without_a_new_best():
    rng = np.random.default_rng(4)
    n, labels = 800, 6
    logit = rng.normal(-3.0, 1.5, size=(n, labels))
    Y = (rng.random((n, labels)) < 1 / (1 + np.exp(-logit))).astype(np.uint8)
    oofs = [
        (1 / (1 + np.exp(-(logit + rng.normal(0, s, size=logit.shape))))).astype(np.float32)
        for s in (0.5, 0.6, 0.8, 1.2)
    ]
    patient = select(oofs, Y, max_iterations=40, shortlist=0, patience=10)
    hasty = select(oofs, Y, max_iterations=40, shortlist=0, patience=2)
    for ens, patience in ((patient, 10), (hasty, 2)):
        t = list(ens.trajectory)
        assert len(t) < 40  # stopped early
        assert min(t[-patience:]) >= min(t[:-patience])  # no new best in the last steps
        assert min(t[-patience - 1 :]) < min(t[: -patience - 1] or [np.inf])  # one just before
    assert len(hasty.trajectory) < len(patient.trajectory)
    assert hasty.trajectory == patient.trajectory[: len(hasty.trajectory)]  # the same steps
    with pytest.raises(ConfigError, match="patience"):
        select(oofs, Y, patience=0)


def test_screening_on_one_chunk_is_exact_and_the_shortlist_picks_what_exact_scoring_picks():
    # Scene-sized data fit in one evaluation chunk: screening must score it as it is, not
    # scale it by the stride (which weighted the negatives 8x and misled a short list).
    rng = np.random.default_rng(5)
    n, labels = 1200, 6
    logit = rng.normal(-1.5, 1.5, size=(n, labels))
    Y = (rng.random((n, labels)) < 1 / (1 + np.exp(-logit))).astype(np.uint8)
    oofs = []
    for s in np.linspace(0.4, 2.0, 15):
        shift = rng.normal(0.0, 0.5)  # some lean to the positives, some to the negatives
        noisy = logit + shift + rng.normal(0, s, size=logit.shape)
        oofs.append((1 / (1 + np.exp(-noisy))).astype(np.float32))
    exact = select(oofs, Y, max_iterations=15, shortlist=0)
    screened = select(oofs, Y, max_iterations=15, shortlist=3)
    assert screened.members == exact.members
    assert screened.score == pytest.approx(exact.score, rel=1e-9)
