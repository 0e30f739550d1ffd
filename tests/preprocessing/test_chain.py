import pickle
from pathlib import Path

import numpy as np
import pytest

from automoa.config import StepConfig
from automoa.preprocessing import Step, StepCache, fold_key, prepare_fold, register
from automoa.preprocessing.cache import CacheEntry, read_entry
from automoa.testing import tiny_table

QUANTILE = StepConfig("quantile", {"n_quantiles": 20})
PCA = StepConfig("pca", {"group": "g-", "n_components": 3})


@register
class _DuplicateFirstRow(Step):
    """A test resampler: appends a copy of the first training row."""

    name = "test_duplicate_first"
    resamples = True
    supervised = True

    def __init__(self) -> None:
        super().__init__()

    def fit_resample(self, X, Y, feature_names, *, seed=0):
        self._feature_names_out = tuple(feature_names)
        return np.vstack([X, X[:1]]), np.vstack([Y, Y[:1]])


@pytest.fixture
def fold():
    X, Y, names = tiny_table()
    return X[:60], Y[:60], X[60:80], X[80:], names


def _prepare(fold, configs, cache=None, key="k", **kwargs):
    X_train, Y_train, X_valid, X_test, names = fold
    return prepare_fold(
        configs, X_train, Y_train, X_valid, X_test, names, cache=cache, fold_key=key, **kwargs
    )


def test_cached_prefix_is_reused_and_gives_the_same_result(fold, tmp_path):
    cache = StepCache(tmp_path)
    plain = _prepare(fold, [QUANTILE, PCA])
    first = _prepare(fold, [QUANTILE], cache=cache)
    second = _prepare(fold, [QUANTILE, PCA], cache=cache)
    assert cache.stats.hits == {"quantile": 1} and cache.stats.misses == {"quantile": 1, "pca": 1}
    np.testing.assert_array_equal(second.X_train, plain.X_train)
    np.testing.assert_array_equal(second.X_test, plain.X_test)
    np.testing.assert_array_equal(second.chain.transform(fold[2]), plain.X_valid)
    np.testing.assert_array_equal(first.X_valid, _prepare(fold, [QUANTILE]).X_valid)


def test_another_fold_or_seed_is_a_miss(fold, tmp_path):
    cache = StepCache(tmp_path)
    _prepare(fold, [QUANTILE], cache=cache, key="fold-0")
    _prepare(fold, [QUANTILE], cache=cache, key="fold-1")
    assert cache.stats.hits == {}
    keys = {fold_key("fp", np.arange(60), np.arange(60, 80), s) for s in (0, 1)}
    keys.add(fold_key("other", np.arange(60), np.arange(60, 80), 0))
    assert len(keys) == 3


def test_a_second_worker_reads_entries_from_disk(fold, tmp_path):
    _prepare(fold, [QUANTILE, PCA], cache=StepCache(tmp_path))
    other_worker = StepCache(tmp_path)
    _prepare(fold, [QUANTILE, PCA], cache=other_worker)
    assert other_worker.stats.hits == {"quantile": 1, "pca": 1}
    assert not list(tmp_path.glob(".tmp-*"))


def test_unreadable_entry_is_a_miss(fold, tmp_path):
    _prepare(fold, [QUANTILE], cache=StepCache(tmp_path))
    for path in tmp_path.glob("*.npz"):
        path.write_bytes(b"truncated")
    fresh = StepCache(tmp_path)
    result = _prepare(fold, [QUANTILE], cache=fresh)
    assert fresh.stats.misses == {"quantile": 1}
    np.testing.assert_array_equal(result.X_train, _prepare(fold, [QUANTILE]).X_train)


def test_memory_and_disk_are_bounded(tmp_path):
    entry = CacheEntry(
        np.zeros((100, 100), np.float32),
        np.zeros((100, 1), np.uint8),
        np.zeros((10, 100), np.float32),
        None,
        tuple(f"f{i}" for i in range(100)),
        [],
    )
    cache = StepCache(tmp_path, max_memory_bytes=3 * entry.nbytes, max_disk_bytes=5 * entry.nbytes)
    for i in range(8):
        cache.put(f"key{i}", entry)
    assert len(cache._memory) == 3 and list(cache._memory) == ["key5", "key6", "key7"]
    on_disk = sorted(p.stem for p in tmp_path.glob("*.npz"))
    assert len(on_disk) <= 5 and "key7" in on_disk and "key0" not in on_disk


def test_transductive_fit_uses_test_features_only_when_asked(fold):
    X_train, Y_train, X_valid, X_test, names = fold
    X_test = X_test.copy()
    X_test[:, 0] = 1000.0  # far outside the training range
    inductive = prepare_fold([QUANTILE], X_train, Y_train, X_valid, X_test, names)
    transductive = prepare_fold(
        [StepConfig("quantile", {"n_quantiles": 20}, fit_on="train+test")],
        X_train,
        Y_train,
        X_valid,
        X_test,
        names,
    )
    top_inductive = inductive.chain.steps[0].transformer.quantiles_[-1, 0]
    top_transductive = transductive.chain.steps[0].transformer.quantiles_[-1, 0]
    assert top_inductive < 10 and top_transductive == 1000.0


def test_known_negative_test_rows_are_not_fitted_on(fold):
    X_train, Y_train, X_valid, X_test, names = fold
    X_test = X_test.copy()
    X_test[0, 0] = 1000.0
    skip_first = np.ones(len(X_test), dtype=bool)
    skip_first[0] = False
    result = prepare_fold(
        [StepConfig("quantile", {"n_quantiles": 20}, fit_on="train+test")],
        X_train,
        Y_train,
        X_valid,
        X_test,
        names,
        test_fit_rows=skip_first,
    )
    assert result.chain.steps[0].transformer.quantiles_[-1, 0] < 10


def test_resampler_grows_training_rows_only_and_is_left_out_of_the_chain(fold):
    X_train, _, X_valid, X_test, _ = fold
    result = _prepare(fold, [StepConfig("test_duplicate_first"), QUANTILE])
    assert result.X_train.shape[0] == X_train.shape[0] + 1
    assert result.Y_train.shape[0] == X_train.shape[0] + 1
    assert result.X_valid.shape == X_valid.shape and result.X_test.shape == X_test.shape
    assert [s.name for s in result.chain.steps] == ["quantile"]


class _Planted:
    """A pickle that creates a file when it is unpickled: the attack a cache must not run."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def test_a_pickle_planted_in_the_cache_is_never_run(fold, tmp_path):
    cache_dir = tmp_path / "cache"
    _prepare(fold, [QUANTILE], cache=StepCache(cache_dir))
    entries = list(cache_dir.glob("*.npz"))
    assert entries
    sentinel = tmp_path / "ran"
    planted = pickle.dumps(_Planted(sentinel))
    for path in entries:
        path.write_bytes(planted)
        # A pickle under the earlier format's name, too: automoa no longer reads it.
        path.with_suffix(".joblib").write_bytes(planted)
    fresh = StepCache(cache_dir)
    result = _prepare(fold, [QUANTILE], cache=fresh)
    assert not sentinel.exists()
    assert fresh.stats.misses == {"quantile": 1}  # recomputed, and written back as data
    np.testing.assert_array_equal(result.X_train, _prepare(fold, [QUANTILE]).X_train)
    assert read_entry(entries[0]) is not None


def test_an_entry_with_an_object_array_or_wrong_shapes_is_a_miss(fold, tmp_path):
    cache = StepCache(tmp_path)
    _prepare(fold, [QUANTILE], cache=cache)
    path = next(tmp_path.glob("*.npz"))
    entry = read_entry(path)
    assert entry is not None and entry.states[0].name == "quantile"
    with np.load(path, allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    np.savez(
        path.with_suffix(".tmp.npz"),
        allow_pickle=True,
        **{**arrays, "X_valid": np.array([object()])},
    )
    path.with_suffix(".tmp.npz").replace(path)
    assert read_entry(path) is None
    np.savez(path.with_suffix(".tmp.npz"), **{**arrays, "X_valid": arrays["X_valid"][:, :1]})
    path.with_suffix(".tmp.npz").replace(path)
    assert read_entry(path) is None
