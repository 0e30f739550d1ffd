import numpy as np
import pytest
from scipy.stats import kurtosis, skew
from sklearn.decomposition import PCA

from automoa.exceptions import PruneTrial
from automoa.params import ConstantParam, IntParam
from automoa.preprocessing import get_step
from automoa.testing import tiny_table


@pytest.fixture
def table():
    return tiny_table()


def test_pca_appends_group_components_matching_sklearn(table):
    X, Y, names = table
    step = get_step("pca")(group="g-", n_components=3).fit(X, Y, names, seed=0)
    out = step.transform(X)
    assert out.shape == (X.shape[0], X.shape[1] + 3)
    assert step.feature_names_out[-3:] == ("pca[g-]_0", "pca[g-]_1", "pca[g-]_2")
    reference = PCA(n_components=3, random_state=0).fit_transform(X[:, :10])
    np.testing.assert_allclose(out[:, -3:], reference, atol=1e-4)
    np.testing.assert_array_equal(out[:, : X.shape[1]], X)


def test_pca_replace_drops_the_group(table):
    X, Y, names = table
    step = get_step("pca")(group="c-", n_components=2, mode="replace").fit(X, Y, names)
    assert not any(n.startswith("c-") for n in step.feature_names_out)
    assert step.transform(X).shape == (X.shape[0], X.shape[1] - 5 + 2)


def test_pca_caps_components_at_group_size(table):
    X, Y, names = table
    step = get_step("pca")(group="c-", n_components=50).fit(X, Y, names)
    assert step.components.shape == (5, 5)


def test_pca_bind_caps_the_search_range(table):
    _, _, names = table
    pca = get_step("pca")
    bound = pca.bind(
        {"group": ConstantParam("c-"), "n_components": IntParam(2, 60, 30, log=True)}, names, 90
    )
    assert bound["n_components"] == IntParam(2, 5, 5, log=True)
    bound = pca.bind({"group": ConstantParam("all"), "n_components": ConstantParam(600)}, names, 40)
    assert bound["n_components"] == ConstantParam(16)  # min(16 columns, 40 rows)


def test_group_matching_nothing_prunes_with_reason(table):
    X, Y, names = table
    with pytest.raises(PruneTrial, match="'x-' matches no column"):
        get_step("pca")(group="x-").fit(X, Y, names)


def test_quantile_on_one_group_leaves_the_others(table):
    X, Y, names = table
    out = get_step("quantile")(n_quantiles=30, group="c-").fit(X, Y, names).transform(X)
    np.testing.assert_array_equal(out[:, :10], X[:, :10])
    assert abs(out[:, 10:15].mean()) < 0.2 and 0.7 < out[:, 10:15].std() < 1.3


def test_rowstats_values(table):
    X, Y, names = table
    step = get_step("rowstats")().fit(X, Y, names)
    assert step.feature_names_out[-8:-4] == tuple(
        f"rowstats[g-]_{s}" for s in ("mean", "std", "skew", "kurt")
    )
    out = step.transform(X)
    genes = X[:, :10].astype(np.float64)
    np.testing.assert_allclose(out[:, -8], genes.mean(1), rtol=1e-5)
    np.testing.assert_allclose(out[:, -7], genes.std(1), rtol=1e-5)
    np.testing.assert_allclose(out[:, -6], skew(genes, axis=1), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[:, -5], kurtosis(genes, axis=1), rtol=1e-4, atol=1e-5)


def test_onehot_encodes_small_integer_columns_only(table):
    X, Y, names = table
    step = get_step("onehot")(max_levels=5).fit(X, Y, names)
    assert "cat" not in step.feature_names_out
    assert step.feature_names_out[-4:] == ("cat=0", "cat=1", "cat=2", "cat=3")
    out = step.transform(X)
    np.testing.assert_array_equal(out[:, -4:].sum(1), 1)
    unseen = X.copy()
    unseen[:, -1] = 9
    assert (step.transform(unseen)[:, -4:] == 0).all()


def test_variance_drops_near_constant_columns(table):
    X, Y, names = table
    X = X.copy()
    X[:, 3] = 1.0
    step = get_step("variance")(threshold=0.0).fit(X, Y, names)
    assert "g-3" not in step.feature_names_out and len(step.feature_names_out) == 15


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("pca", {"n_components": 0}),
        ("pca", {"mode": "merge"}),
        ("quantile", {"n_quantiles": 1}),
        ("rowstats", {"stats": "median"}),
        ("onehot", {"max_levels": 2}),
        ("variance", {"threshold": -1}),
    ],
)
def test_bad_parameters(name, bad):
    with pytest.raises(ValueError):
        get_step(name)(**bad)
