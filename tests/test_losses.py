import numpy as np
import pytest
import torch
import torch.nn.functional as F

from automoa.losses import (
    LOSS_NAMES,
    bce,
    focal,
    log_scaled_pos_weight,
    make_loss,
    smoothed_bce,
)


@pytest.fixture
def batch():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(64, 5, generator=generator, dtype=torch.float64) * 3
    targets = (torch.rand(64, 5, generator=generator, dtype=torch.float64) < 0.2).double()
    return logits, targets


def test_bce_matches_torch(batch):
    logits, targets = batch
    expected = F.binary_cross_entropy_with_logits(logits, targets)
    torch.testing.assert_close(bce(logits, targets), expected)


def test_pos_weight_matches_torch(batch):
    logits, targets = batch
    weight = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0], dtype=torch.float64)
    expected = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)
    torch.testing.assert_close(bce(logits, targets, pos_weight=weight), expected)


def test_smoothed_bce_is_bce_on_smoothed_targets(batch):
    logits, targets = batch
    smoothed = targets * 0.999 + 0.0005  # the MoA recipe: 0.0005 / 0.9995
    expected = F.binary_cross_entropy_with_logits(logits, smoothed)
    torch.testing.assert_close(smoothed_bce(logits, targets, smoothing=0.001), expected)


def test_focal_matches_the_reference_formula(batch):
    logits, targets = batch
    p = torch.sigmoid(logits)
    p_t = torch.where(targets == 1, p, 1 - p)
    alpha_t = torch.where(targets == 1, 0.25, 0.75)
    expected = (-alpha_t * (1 - p_t) ** 2.0 * torch.log(p_t)).mean()
    torch.testing.assert_close(focal(logits, targets, gamma=2.0, alpha=0.25), expected)


def test_focal_with_gamma_zero_is_half_bce(batch):
    logits, targets = batch
    torch.testing.assert_close(
        focal(logits, targets, gamma=0.0, alpha=0.5), 0.5 * bce(logits, targets)
    )


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_stable_and_finite_gradients_at_extreme_logits(name):
    logits = torch.tensor([[50.0, -50.0, 50.0, -50.0]], requires_grad=True)
    targets = torch.tensor([[1.0, 0.0, 0.0, 1.0]])  # two right, two confidently wrong
    loss = make_loss(name, {}, np.array([[1, 0, 0, 1], [0, 0, 1, 0]]))(logits, targets)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()
    assert loss.item() > 10  # the confidently wrong cells dominate


def test_log_scaled_pos_weight():
    Y = np.zeros((1000, 3), dtype=np.uint8)
    Y[:3, 0] = 1  # ratio 332 -> ln 5.8
    Y[:500, 1] = 1  # balanced -> 1
    weights = log_scaled_pos_weight(Y)
    np.testing.assert_allclose(weights, [np.log(997 / 3), 1.0, np.log(1000)], rtol=1e-6)


def test_make_loss_with_log_pos_weight(batch):
    logits, targets = batch
    Y = targets.numpy().astype(np.uint8)
    loss = make_loss("bce", {"pos_weight": "log"}, Y)
    weight = torch.from_numpy(log_scaled_pos_weight(Y)).double()
    expected = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=weight)
    torch.testing.assert_close(loss(logits, targets), expected)


@pytest.mark.parametrize(
    ("name", "params"),
    [("hinge", {}), ("bce", {"gamma": 2.0}), ("focal", {"pos_weight": "linear"})],
)
def test_bad_loss_configurations(name, params):
    with pytest.raises(ValueError):
        make_loss(name, params, np.zeros((4, 2), dtype=np.uint8))
