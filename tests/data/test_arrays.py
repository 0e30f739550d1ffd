"""Datasets built from arrays and DataFrames in memory (the API's ``(X, Y)`` form)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse

from automoa.data import dataset_fingerprint, from_arrays
from automoa.exceptions import DataError


def _arrays(n=40, d=3, labels=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = (rng.random((n, labels)) < 0.3).astype(int)
    return X, Y


def test_arrays_get_positional_names_and_ids():
    X, Y = _arrays()
    data = from_arrays(X, Y)
    assert data.feature_names == ("x0", "x1", "x2")
    assert data.target_names == ("target_0", "target_1")
    assert data.ids[:3].tolist() == ["0", "1", "2"]
    assert data.positional_columns and data.X.dtype == np.float32 and data.Y.dtype == np.uint8
    assert data.fingerprint == dataset_fingerprint(data)
    np.testing.assert_array_equal(data.Y, Y)


def test_dataframes_keep_their_names_and_index():
    X, Y = _arrays()
    index = pd.Index([f"row{i}" for i in range(len(X))], name="sample")
    frame_x = pd.DataFrame(X, columns=["a", "b", "c"], index=index)
    frame_y = pd.DataFrame(Y, columns=["p", "q"], index=index)
    data = from_arrays(frame_x, frame_y, X_test=X[:5], groups=np.arange(len(X)) // 4)
    assert data.feature_names == ("a", "b", "c") and data.target_names == ("p", "q")
    assert data.ids[0] == "row0" and not data.positional_columns
    assert data.X_test.shape == (5, 3)  # an array X_test takes X's columns by position
    assert data.groups[:5].tolist() == ["0", "0", "0", "0", "1"]


def test_a_one_dimensional_y_is_one_label_and_object_numbers_are_numbers():
    X, Y = _arrays()
    data = from_arrays(X.astype(object), pd.Series(Y[:, 0], name="hit"))
    assert data.target_names == ("hit",) and data.Y.shape == (len(X), 1)
    np.testing.assert_allclose(data.X, X.astype(np.float32))


def test_moa_columns_in_a_dataframe_are_encoded_and_controls_known_negative():
    X, Y = _arrays(n=6)
    frame = pd.DataFrame(X, columns=["g-0", "g-1", "c-0"]).assign(
        cp_type=["trt_cp", "ctl_vehicle"] * 3, cp_time=[24, 48, 72] * 2, cp_dose=["D1", "D2"] * 3
    )
    Y[:] = [[1, 0], [0, 0], [0, 1], [0, 0], [1, 1], [0, 0]]  # controls have no positive
    data = from_arrays(frame, Y)
    assert data.moa_encoded and data.known_negative.tolist() == [False, True] * 3
    assert "cp_type" not in data.feature_names and "cp_time_24" in data.feature_names
    assert data.input_columns == tuple(frame.columns)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda X, Y: (X[:, 0], Y), r"X: expected a 2-D array .* got 1-D"),
        (lambda X, Y: (scipy.sparse.csr_matrix(X), Y), "X: sparse input is not supported"),
        (lambda X, Y: (X + 1j, Y), "Complex data not supported"),
        (lambda X, Y: (X[:, :0], Y), r"X: 0 feature\(s\) \(shape=\(40, 0\)\)"),
        (lambda X, Y: (X, Y[:-1]), "Y: 39 rows but X has 40; expected one per row"),
        (lambda X, Y: (np.where(X > 2, np.inf, X), Y), "X: infinite .*values in"),
        (lambda X, Y: (X, Y * 2), "Y: target column 'target_0' has value 2 .*Only binary"),
        (lambda X, Y: (X, Y * 0.5), r"has value 0\.5 .*continuous"),
        (
            lambda X, Y: (pd.DataFrame(X, columns=["a", "b", "a"]), Y),
            "X: duplicate column names .a.",
        ),
        (
            lambda X, Y: (pd.DataFrame(X), pd.DataFrame(Y, index=np.arange(40)[::-1])),
            r"Y: its index differs from X's .*Y\.loc\[X\.index\]",
        ),
        (
            lambda X, Y: (
                pd.DataFrame(X, columns=list("abc")),
                pd.DataFrame(Y, columns=list("az")),
            ),
            "Y: 1 target column also in X",
        ),
    ],
)
def test_bad_arrays_get_one_line_errors_naming_the_input(make, message):
    X, Y = _arrays()
    X[0, 0] = 3.0  # one infinity for the infinity case
    with pytest.raises(DataError, match=message) as caught:
        from_arrays(*make(X, Y))
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, ValueError)  # scikit-learn's convention for bad input


def test_extras_are_checked_against_x():
    X, Y = _arrays()
    with pytest.raises(DataError, match="groups: 39 rows but X has 40"):
        from_arrays(X, Y, groups=np.arange(39))
    with pytest.raises(DataError, match="known_negative: expected booleans"):
        from_arrays(X, Y, known_negative=np.full(40, 2))
    with pytest.raises(DataError, match="1 ctl_vehicle"):
        from_arrays(X, Y, known_negative=Y[:, 0] == 1)
    with pytest.raises(DataError, match="X_test: columns differ from X"):
        from_arrays(pd.DataFrame(X, columns=list("abc")), Y, X_test=pd.DataFrame(X[:, :2]))
