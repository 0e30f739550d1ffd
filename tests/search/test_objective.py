import numpy as np
import pytest

from automoa.config import PipelineConfig, StepConfig
from automoa.data.dataset import Dataset
from automoa.deadline import Deadline
from automoa.folds import make_folds
from automoa.metrics import mean_columnwise_log_loss
from automoa.preprocessing import Step, register
from automoa.search.objective import TrialStopped, evaluate


def _dataset(n=300, with_test=True, controls=30):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = (X[:, :3] + 0.5 * rng.normal(size=(n, 3)) > 0.8).astype(np.uint8)
    known_negative = np.zeros(n, dtype=bool)
    known_negative[:controls] = True
    Y[known_negative] = 0
    X_test = rng.normal(size=(40, 6)).astype(np.float32) if with_test else None
    test_kn = np.zeros(40, dtype=bool) if with_test else None
    if with_test:
        test_kn[:5] = True
    return Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(6)),
        target_names=("a", "b", "c"),
        ids=np.array([str(i) for i in range(n)]),
        known_negative=known_negative,
        X_test=X_test,
        test_ids=None if X_test is None else np.array([f"t{i}" for i in range(40)]),
        test_known_negative=test_kn,
    )


LINEAR = PipelineConfig("linear", {"C": 1.0}, (StepConfig("quantile", {"n_quantiles": 50}),))


def test_linear_beats_prior_and_oof_is_aligned():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    linear = evaluate(LINEAR, ds, folds, seed=0)
    prior = evaluate(PipelineConfig("prior"), ds, folds, seed=0)
    assert linear.cv_score < prior.cv_score
    assert linear.oof.shape == ds.Y.shape and linear.oof.dtype == np.float32
    assert (linear.oof[ds.known_negative] == 0).all()
    assert linear.cv_score == pytest.approx(mean_columnwise_log_loss(ds.Y, linear.oof))
    assert len(linear.fold_scores) == 5 and len(linear.fold_seconds) == 5
    assert linear.test_pred.shape == (40, 3)
    assert (linear.test_pred[:5] == 0).all() and (linear.test_pred[5:] > 0).all()


def test_same_seed_same_scores():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    a = evaluate(LINEAR, ds, folds, seed=1)
    b = evaluate(LINEAR, ds, folds, seed=1)
    assert np.array_equal(a.oof, b.oof)


_SEEN: dict[str, list[int]] = {}


@register
class RecordingStep(Step):
    """Records which rows it is fitted on (to prove validation rows never are)."""

    name = "test_recording"

    def __init__(self) -> None:
        super().__init__()

    def fit(self, X, Y, feature_names, *, seed=0):
        _SEEN.setdefault("fit_rows", []).extend(X[:, 0].astype(int).tolist())
        self._names = feature_names
        return self

    def transform(self, X):
        return X

    @property
    def feature_names_out(self):
        return self._names


def test_preprocessing_fitted_on_training_rows_only_and_controls_excluded():
    ds = _dataset(with_test=False)
    X = ds.X.copy()
    X[:, 0] = np.arange(ds.n_rows)  # row number as a feature
    ds = Dataset(**{**ds.__dict__, "X": X})
    folds = make_folds(ds.Y, 3, seed=0)
    _SEEN.clear()
    config = PipelineConfig("prior", {}, (StepConfig("test_recording"),))
    evaluate(config, ds, folds, seed=0)
    fitted = np.array(_SEEN["fit_rows"])
    assert len(fitted) == 2 * (ds.n_rows - 30)  # each trainable row in K-1 = 2 training folds
    assert not np.isin(fitted, np.arange(30)).any()  # known-negative rows never fitted on


def test_reporter_can_prune_after_first_fold():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    calls = []

    def reporter(fold, value):
        calls.append((fold, value))
        return True

    with pytest.raises(TrialStopped, match="pruned after fold 0") as stopped:
        evaluate(LINEAR, ds, folds, reporter=reporter)
    assert len(calls) == 1 and len(stopped.value.fold_scores) == 1


def test_no_fold_starts_when_the_trial_cannot_finish():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    with pytest.raises(TrialStopped, match="budget") as stopped:
        evaluate(LINEAR, ds, folds, deadline=Deadline(5.0), expected_fold_seconds=2.0)
    assert stopped.value.fold_scores == []


def test_a_fit_running_past_the_deadline_stops_the_trial():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    ticks = iter([0.0, 0.0])  # creation and the first fold's check see time 0, then it is late

    def clock():
        return next(ticks, 100.0)

    with pytest.raises(TrialStopped, match="during L-BFGS") as stopped:
        evaluate(LINEAR, ds, folds, deadline=Deadline(10.0, clock=clock))
    assert stopped.value.fold_scores == []


def test_variance_threshold_removing_everything_is_a_prune_reason():
    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    config = PipelineConfig("linear", {}, (StepConfig("variance", {"threshold": 1e6}),))
    with pytest.raises(TrialStopped, match="removes every column"):
        evaluate(config, ds, folds)


def test_cache_shared_by_trials_gives_identical_results(tmp_path):
    from automoa.preprocessing import StepCache

    ds = _dataset()
    folds = make_folds(ds.Y, 5, seed=0)
    cache = StepCache(tmp_path)
    plain = evaluate(LINEAR, ds, folds, seed=0)
    first = evaluate(LINEAR, ds, folds, seed=0, cache=cache)
    other_model = PipelineConfig("linear", {"C": 0.1}, LINEAR.preprocessing)
    second = evaluate(other_model, ds, folds, seed=0, cache=cache)
    assert np.array_equal(first.oof, plain.oof) and np.array_equal(first.test_pred, plain.test_pred)
    assert cache.stats.hits == {"quantile": 5}  # the second trial reused every fold's prefix
    assert second.cv_score != first.cv_score
