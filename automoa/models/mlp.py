"""The ``mlp`` family: the multi-layer perceptrons that won MoA.

Architectures (``architecture``):

- ``mlp``: 1-4 blocks of [BatchNorm, Dropout, Linear (optionally weight-normalised),
  activation], as in the MoA starter notebooks; the first block's dropout is ``input_dropout``.
- ``resnet2``: the two-input-head residual network of the MoA 1st place: head A reads the
  features, head B reads the features concatenated with head A's output, and the network's
  representation is the mean of both heads' outputs (a residual connection around head B).

Then BatchNorm and Dropout, and one linear head per target set. Training (losses, seeds,
auxiliary targets, the deadline, bfloat16 autocast) is shared with TabNet:
:mod:`automoa.models.torch_family`.
"""

from __future__ import annotations

from typing import Any

from automoa.models.base import constructor_arguments
from automoa.models.registry import register
from automoa.models.torch_family import FittedTorchModel, TorchFamily

ARCHITECTURES = ("mlp", "resnet2")
ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "silu", "gelu")


def _blocks(n_in: int, spec: dict[str, Any]):
    """The hidden blocks of one head and the width they end with."""
    from torch import nn

    from automoa.models.torch_training import FastDropout, linear_layer

    activation = {
        "relu": nn.ReLU,
        "leaky_relu": nn.LeakyReLU,
        "prelu": nn.PReLU,
        "elu": nn.ELU,
        "silu": nn.SiLU,
        "gelu": nn.GELU,
    }[spec["activation"]]
    layers: list = []
    width = n_in
    for i, out in enumerate(spec["widths"]):
        if spec["batch_norm"]:
            layers.append(nn.BatchNorm1d(width))
        rate = spec["input_dropout"] if i == 0 else spec["dropout"]
        if rate > 0:
            layers.append(FastDropout(rate))
        layers.append(linear_layer(width, out, spec["weight_norm"]))
        layers.append(activation())
        width = out
    return nn.Sequential(*layers), width


def _make_body(spec: dict[str, Any]):
    import torch
    from torch import nn

    from automoa.models.torch_training import FastDropout

    class MLPBody(nn.Module):
        """Hidden blocks (one or two heads) then BatchNorm and Dropout."""

        def __init__(self) -> None:
            super().__init__()
            n_in = spec["n_in"]
            self.head_a, width = _blocks(n_in, spec)
            self.head_b = None
            if spec["architecture"] == "resnet2":
                self.head_b, _ = _blocks(n_in + width, spec)
            tail: list = [nn.BatchNorm1d(width)] if spec["batch_norm"] else []
            if spec["dropout"] > 0:
                tail.append(FastDropout(spec["dropout"]))
            self.tail = nn.Sequential(*tail)
            self.width = width

        def forward(self, x: torch.Tensor):
            h = self.head_a(x)
            if self.head_b is not None:
                h = 0.5 * (h + self.head_b(torch.cat([x, h], dim=1)))
            return self.tail(h), None

    return MLPBody()


class FittedMLP(FittedTorchModel):
    """Averaged MLPs (see :class:`~automoa.models.torch_family.FittedTorchModel`)."""

    family_name = "mlp"

    @classmethod
    def build_body(cls, spec, device):
        body = _make_body(spec)
        return body.to(device), body.width


@register
class MLPFamily(TorchFamily):
    """Multi-layer perceptron for all labels at once.

    Args:
        architecture: ``mlp`` or ``resnet2`` (see the module docstring).
        n_layers: hidden layers per head (1-4).
        hidden_size: width of the first hidden layer.
        hidden_decay: each further layer's width is the previous one's times this (1: equal).
        dropout: dropout before every hidden layer after the first and before the heads.
        input_dropout: dropout on the input features.
        batch_norm: BatchNorm before every linear layer.
        weight_norm: weight-normalised linear layers (as the MoA starter).
        activation: ``relu``, ``leaky_relu``, ``prelu``, ``elu``, ``silu`` or ``gelu``.
        lr, weight_decay, scheduler, epochs, batch_size, patience, n_seeds, precision, aux,
        aux_weight, pretrain_epochs, stage1_folds, optimizer, l2: see
            :class:`~automoa.models.torch_family.TorchFamily`.
    """

    name = "mlp"
    fitted_class = FittedMLP

    def __init__(
        self,
        architecture: str = "mlp",
        n_layers: int = 2,
        hidden_size: int = 1024,
        hidden_decay: float = 1.0,
        dropout: float = 0.25,
        input_dropout: float = 0.2,
        batch_norm: bool = True,
        weight_norm: bool = True,
        activation: str = "leaky_relu",
        lr: float = 5e-3,
        weight_decay: float = 1e-5,
        scheduler: str = "onecycle",
        epochs: int = 20,
        batch_size: int = 256,
        patience: int = 5,
        n_seeds: int = 1,
        precision: str = "auto",
        aux: str = "none",
        aux_weight: float = 0.5,
        pretrain_epochs: int = 10,
        stage1_folds: int = 3,
        optimizer: str = "adamw",
        l2: float = 1e-5,
    ) -> None:
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
        if not 1 <= n_layers <= 4 or hidden_size < 1 or not 0 < hidden_decay <= 1:
            raise ValueError("n_layers must be 1-4, hidden_size >= 1, hidden_decay in (0, 1]")
        if not 0 <= dropout < 1 or not 0 <= input_dropout < 1:
            raise ValueError("dropout and input_dropout must be in [0, 1)")
        super().__init__(**constructor_arguments(locals()))

    def first_width(self) -> int:
        return self.params["hidden_size"]

    def body_spec(self, n_in: int) -> dict[str, Any]:
        p = self.params
        widths = [
            max(8, round(p["hidden_size"] * p["hidden_decay"] ** i)) for i in range(p["n_layers"])
        ]
        return {
            "n_in": n_in,
            "architecture": p["architecture"],
            "widths": widths,
            "dropout": p["dropout"],
            "input_dropout": p["input_dropout"],
            "batch_norm": p["batch_norm"],
            "weight_norm": p["weight_norm"],
            "head_weight_norm": p["weight_norm"],
            "activation": p["activation"],
        }
