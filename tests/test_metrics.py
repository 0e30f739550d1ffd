import numpy as np
import pytest
from sklearn.metrics import log_loss

from automoa.metrics import columnwise_log_loss, mean_columnwise_log_loss, prior_probabilities


def test_matches_sklearn_per_column_log_loss():
    rng = np.random.default_rng(0)
    Y = (rng.random((200, 6)) < [0.01, 0.1, 0.3, 0.5, 0.7, 0.9]).astype(np.uint8)
    Y[0] = 1  # every column has both classes for sklearn
    Y[1] = 0
    P = rng.random((200, 6)).astype(np.float32)
    expected = np.mean([log_loss(Y[:, j], P[:, j], labels=[0, 1]) for j in range(6)])
    assert mean_columnwise_log_loss(Y, P) == pytest.approx(expected, rel=1e-6)


def test_clipping_bounds_infinite_loss():
    Y = np.array([[1, 0]])
    P = np.array([[0.0, 1.0]])  # confidently wrong on both labels
    assert mean_columnwise_log_loss(Y, P) == pytest.approx(-np.log(1e-15), rel=1e-4)


def test_known_negative_rows_predicted_zero_add_no_loss():
    Y = np.array([[1, 0], [0, 1], [0, 0]])
    P = np.array([[0.8, 0.1], [0.3, 0.6], [0.0, 0.0]])
    per_col = columnwise_log_loss(Y, P)
    # The control row contributes ~0 but counts in the row mean (Kaggle convention).
    assert per_col[0] == pytest.approx((-np.log(0.8) - np.log(0.7)) / 3, rel=1e-9)


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        mean_columnwise_log_loss(np.zeros((3, 2)), np.zeros((3, 3)))


def test_prior_probabilities_laplace():
    Y = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    assert prior_probabilities(Y).tolist() == [pytest.approx(3 / 6), pytest.approx(1 / 6)]
    assert prior_probabilities(Y, smoothing=0).tolist() == [0.5, 0.0]
