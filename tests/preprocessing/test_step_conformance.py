import pytest

from automoa.preprocessing import get_step, step_names
from automoa.testing import check_step

PARAMS = {
    "pca": [
        {"group": "g-", "n_components": 3},
        {"group": "all", "n_components": 4, "mode": "replace"},
    ],
    "quantile": [{"n_quantiles": 20}, {"n_quantiles": 30, "group": "c-"}],
    "variance": [{"threshold": 0.5}],
    "rowstats": [{}, {"group": "g-", "stats": "mean_std"}],
    "onehot": [{}],
    "standardize": [{}],
    "mlsmote": [{"k": 3}],
    "oversample": [{"min_positives": 10}],
    "impute": [{}, {"indicators": False}],
    "lp_oversample": [{"percentage": 0.3}],
    "lp_smote": [{"percentage": 0.3, "k": 2}],
    "lp_undersample": [{"percentage": 0.3}],
}
SHIPPED = [name for name in step_names() if not name.startswith("test_")]
CASES = [(name, params) for name in SHIPPED for params in PARAMS.get(name, [{}])]


@pytest.mark.parametrize(
    ("name", "params"), CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
)
def test_step_passes_conformance(name, params):
    check_step(get_step(name), params)


def test_every_shipped_step_has_conformance_parameters():
    assert set(SHIPPED) <= set(PARAMS)
