import pytest

from automoa.models import family_names, get_family
from automoa.testing import check_model_family

PARAMS = {
    "prior": {"smoothing": 1.0},
    "linear": {"C": 0.5},
    "xgboost": {"n_estimators": 20, "max_depth": 3},
    "mlp": {"hidden_size": 32, "epochs": 4, "batch_size": 32},
    "tabnet": {"n_d": 8, "n_a": 8, "epochs": 4, "batch_size": 64, "virtual_batch_size": 32},
}


# Families registered by other test modules (``test_*``) are fakes, not shipped families.
SHIPPED = [name for name in family_names() if not name.startswith("test_")]


@pytest.mark.parametrize("name", SHIPPED)
def test_family_passes_conformance(name):
    check_model_family(get_family(name), PARAMS.get(name, {}))


def test_unknown_family_suggests_a_name():
    from automoa.exceptions import SearchSpaceError

    with pytest.raises(SearchSpaceError, match="did you mean 'linear'"):
        get_family("lineer")
