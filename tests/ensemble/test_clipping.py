import itertools
import json

import numpy as np
import pytest

from automoa.ensemble.clipping import (
    DEFAULT_HIGH_GRID,
    DEFAULT_LOW_GRID,
    Clip,
    HonestClip,
    fit_clip,
    honest_clip,
)
from automoa.exceptions import AutomoaError, ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss


def _calibrated(n: int = 800, n_labels: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Predictions spanning 1e-6..0.9 with labels drawn from them: no confident mistakes."""
    rng = np.random.default_rng(seed)
    P = 10.0 ** rng.uniform(-6.0, np.log10(0.9), size=(n, n_labels))
    Y = (rng.random(P.shape) < P).astype(np.uint8)
    # No positive below 0.01, no negative above 0.99: nothing for a clip to rescue.
    Y[P < 0.01] = 0
    return P.astype(np.float32), Y


def _with_mistakes(P: np.ndarray, Y: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Copy of P with ``count`` positives predicted 1e-9 and ``count`` negatives 1 - 1e-7."""
    rng = np.random.default_rng(seed)
    out = P.copy()
    pos, neg = np.flatnonzero(Y == 1), np.flatnonzero(Y == 0)
    out.reshape(-1)[rng.choice(pos, count, replace=False)] = 1e-9
    out.reshape(-1)[rng.choice(neg, count, replace=False)] = np.float32(1 - 1e-7)
    return out


def _brute_force(P, Y, low_grid=DEFAULT_LOW_GRID, high_grid=DEFAULT_HIGH_GRID) -> Clip:
    """The best clip by the full metric on every grid pair; ties to the smaller bounds."""
    best, best_score = None, np.inf
    for low, high in itertools.product(sorted(low_grid), sorted(high_grid)):
        score = mean_columnwise_log_loss(Y, Clip(low, high).apply(P))
        if score < best_score:
            best, best_score = Clip(low, high), score
    return best


def test_confident_mistakes_are_clipped_and_the_score_improves():
    P, Y = _calibrated()
    bad = _with_mistakes(P, Y, count=6, seed=1)
    clip = fit_clip(bad, Y)
    assert clip.low > 0 and clip.high > 0
    clipped = clip.apply(bad)
    assert mean_columnwise_log_loss(Y, clipped) < 0.8 * mean_columnwise_log_loss(Y, bad)
    assert clipped.min() == np.float32(clip.low)
    assert clipped.max() == np.float32(1 - clip.high)


def test_predictions_without_confident_mistakes_keep_the_identity():
    P, Y = _calibrated(seed=2)
    clip = fit_clip(P, Y)
    assert clip == Clip() and clip.is_identity
    np.testing.assert_array_equal(clip.apply(P), P)
    # No cell within reach of any bound: every choice ties, and ties go to no clipping.
    assert fit_clip(np.clip(P, 0.01, 0.9), Y).is_identity


def test_fit_clip_equals_a_brute_force_search_of_the_full_metric():
    # Mistakes of every size, so that each bound of the grids wins or loses by a clear margin.
    rng = np.random.default_rng(3)
    n, n_labels = 600, 4
    Y = (rng.random((n, n_labels)) < 0.1).astype(np.uint8)
    P = np.where(
        Y == 1, 10.0 ** rng.uniform(-7, 0, Y.shape), 1 - 10.0 ** rng.uniform(-7, 0, Y.shape)
    )
    P = np.where(rng.random(Y.shape) < 0.97, np.where(Y == 1, 0.9995, 2e-4), P).astype(np.float32)
    grids = [
        (DEFAULT_LOW_GRID, DEFAULT_HIGH_GRID),
        ((0.0, 1e-6, 1e-3, 1e-2, 0.1), (0.0, 1e-6, 1e-3, 0.1, 0.3)),
    ]
    chosen = set()
    for low_grid, high_grid in grids:
        clip = fit_clip(P, Y, low_grid=low_grid, high_grid=high_grid)
        assert clip == _brute_force(P, Y, low_grid, high_grid)
        chosen.add(clip)
        # On a subset of rows, the metric of those rows decides.
        rows = np.arange(n) % 3 != 0
        clip = fit_clip(P, Y, rows=rows, low_grid=low_grid, high_grid=high_grid)
        assert clip == _brute_force(P[rows], Y[rows], low_grid, high_grid)
    assert not any(c.is_identity for c in chosen) and len(chosen) > 1


def test_known_negative_rows_stay_zero_and_play_no_part_in_the_choice():
    P, Y = _calibrated(seed=4)
    kn = np.zeros(len(Y), dtype=bool)
    kn[::10] = True
    Y[kn] = 0
    P[kn] = np.float32(1 - 1e-7)  # confident mistakes, but these rows are predicted 0 anyway
    assert fit_clip(P, Y).high > 0
    clip = fit_clip(P, Y, known_negative=kn)
    assert clip.is_identity
    out = Clip(low=1e-3, high=1e-2).apply(P, known_negative=kn)
    assert out.dtype == np.float32
    assert not out[kn].any() and out[~kn].min() == np.float32(1e-3)
    assert P[kn].min() > 0  # a new array: the input is unchanged


def test_honest_clip_chooses_each_folds_clip_on_the_other_folds():
    P, Y = _calibrated(n=1200, seed=5)
    fold_of = np.arange(len(Y)) % 4
    # Only fold 0 holds confident mistakes: its own clip, chosen without it, cannot see them.
    bad = P.copy()
    in0 = fold_of == 0
    bad[in0] = _with_mistakes(P[in0], Y[in0], count=8, seed=6)
    honest = honest_clip(bad, Y, fold_of)
    assert isinstance(honest, HonestClip) and honest.folds == (0, 1, 2, 3)
    assert honest.fold_clips[0].is_identity
    assert all(c.low > 0 and c.high > 0 for c in honest.fold_clips[1:])
    assert honest.clip == fit_clip(bad, Y)
    assert honest.clip.low > 0
    assembled = np.empty_like(bad)
    for fold, clip in zip(honest.folds, honest.fold_clips, strict=True):
        rows = fold_of == fold
        assert clip == fit_clip(bad, Y, rows=~rows)
        assembled[rows] = clip.apply(bad[rows])
    assert honest.score == pytest.approx(mean_columnwise_log_loss(Y, assembled), rel=1e-12)
    assert honest.unclipped_score == pytest.approx(mean_columnwise_log_loss(Y, bad), rel=1e-12)
    # Fold 0's mistakes stay unclipped out of fold, so the honest gain is smaller than in-sample.
    in_sample = mean_columnwise_log_loss(Y, honest.clip.apply(bad))
    assert in_sample < honest.score
    # Clipping the clean folds by bounds fitted on fold 0's mistakes costs them a little.
    assert honest.score > honest.unclipped_score


def test_to_dict_round_trips_through_json():
    clip = Clip(low=3e-5, high=1e-3)
    assert Clip.from_dict(json.loads(json.dumps(clip.to_dict()))) == clip
    with pytest.raises(ConfigError, match="missing key"):
        Clip.from_dict({"low": 0.0})


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda P, Y: Clip(low=0.5), ConfigError, r"clip low: expected a number in \[0, 0.5\)"),
        (lambda P, Y: Clip(high=-1e-3), ConfigError, "clip high"),
        (lambda P, Y: fit_clip(P, Y, low_grid=()), ConfigError, "low_grid"),
        (lambda P, Y: fit_clip(P, Y, high_grid=(0.0, 0.7)), ConfigError, "high_grid"),
        (lambda P, Y: fit_clip(P[:, :2], Y), DataError, r"Y: has shape \(30, 3\)"),
        (lambda P, Y: fit_clip(P * 2, Y), DataError, "P: has values in"),
        (lambda P, Y: fit_clip(P, Y, rows=np.zeros(30, dtype=bool)), DataError, "no row"),
        (lambda P, Y: fit_clip(P, Y, known_negative=np.ones(30, bool)), DataError, "known-neg"),
        (lambda P, Y: honest_clip(P, Y, np.zeros(30, dtype=int)), ConfigError, "2 folds"),
        (lambda P, Y: honest_clip(P, Y, np.zeros(29, dtype=int)), DataError, "fold_of"),
        (lambda P, Y: Clip().apply(P, known_negative=np.ones(3, bool)), DataError, "known_neg"),
    ],
)
def test_invalid_inputs_raise_one_line_errors(call, error, message):
    Y = np.zeros((30, 3), dtype=np.uint8)
    Y[::4, 1] = 1
    P = np.full((30, 3), 0.6, dtype=np.float32)
    with pytest.raises(error, match=message) as info:
        call(P, Y)
    assert isinstance(info.value, AutomoaError)
    assert "\n" not in str(info.value)
