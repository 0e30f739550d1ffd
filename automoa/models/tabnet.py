"""The ``tabnet`` family: TabNet (Arik & Pfister 2019) from pytorch-tabnet, trained by automoa.

automoa uses pytorch-tabnet's network (``TabNetNoEmbeddings``: attentive feature selection over
``n_steps`` decision steps with ghost batch norm) and trains it with the loop shared by the
torch families (:mod:`automoa.models.torch_family`), not with ``TabNetRegressor.fit``. That
gives TabNet the same losses, best-epoch selection, per-epoch deadline, seeds, auxiliary-target
modes and safe state as the MLP, and avoids two traps of pytorch-tabnet 4.1's own loop: its
``ReduceLROnPlateau`` call passes no metric and crashes (dreamquark-ai/tabnet#586), and its
model files are torch pickles. Only ``pytorch_tabnet.tab_network`` is imported, which also
avoids the scipy ``DeprecationWarning`` raised by ``pytorch_tabnet.utils``.

The sparsity regulariser (``lambda_sparse`` times the attention masks' entropy, as in
pytorch-tabnet) is added to the training loss. The network's last linear map is replaced by
automoa's heads (with a bias, started at each label's prior log-odds).
"""

from __future__ import annotations

from typing import Any

from automoa.exceptions import ConfigError
from automoa.models.base import constructor_arguments
from automoa.models.registry import register
from automoa.models.torch_family import FittedTorchModel, TorchFamily

MASK_TYPES = ("sparsemax", "entmax")


INSTALL = "pip install pytorch-tabnet"


def _tab_network():
    try:
        from pytorch_tabnet import tab_network
    except ImportError:  # pragma: no cover - depends on the environment
        raise ConfigError(
            f"model family 'tabnet' needs the pytorch-tabnet package: {INSTALL}"
        ) from None
    return tab_network


def _make_body(spec: dict[str, Any], device):
    import torch
    from torch import nn

    tab_network = _tab_network()

    class TabNetBody(nn.Module):
        """TabNet's encoder; returns the summed decision-step outputs and the sparsity loss."""

        def __init__(self) -> None:
            super().__init__()
            n_in = spec["n_in"]
            self.lambda_sparse = spec["lambda_sparse"]
            self.tabnet = tab_network.TabNetNoEmbeddings(
                n_in,
                spec["n_d"],
                n_d=spec["n_d"],
                n_a=spec["n_a"],
                n_steps=spec["n_steps"],
                gamma=spec["gamma"],
                n_independent=spec["n_independent"],
                n_shared=spec["n_shared"],
                virtual_batch_size=spec["virtual_batch_size"],
                momentum=spec["momentum"],
                mask_type=spec["mask_type"],
                # A plain attribute in pytorch-tabnet (not a buffer): made on the right device.
                group_attention_matrix=torch.eye(n_in, device=device),
            )
            self.tabnet.final_mapping = nn.Identity()

        def forward(self, x: torch.Tensor):
            features, mask_loss = self.tabnet(x)
            # pytorch-tabnet minimises loss - lambda_sparse * M_loss (M_loss = -entropy).
            penalty = -self.lambda_sparse * mask_loss if self.lambda_sparse > 0 else None
            return features, penalty

    return TabNetBody()


class FittedTabNet(FittedTorchModel):
    """Averaged TabNets (see :class:`~automoa.models.torch_family.FittedTorchModel`)."""

    family_name = "tabnet"

    @classmethod
    def build_body(cls, spec, device):
        return _make_body(spec, device).to(device), spec["n_d"]


@register
class TabNetFamily(TorchFamily):
    """TabNet for all labels at once.

    Args:
        n_d: width of the decision (prediction) layer.
        n_a: width of the attention layer.
        n_steps: decision steps.
        gamma: feature re-use coefficient in the attention prior (>= 1).
        lambda_sparse: weight of the mask sparsity regulariser.
        n_independent: step-specific GLU layers per block.
        n_shared: GLU layers shared across steps.
        virtual_batch_size: ghost batch norm's batch.
        momentum: batch norm momentum.
        mask_type: ``sparsemax`` or ``entmax``.
        lr, weight_decay, scheduler, epochs, batch_size, patience, n_seeds, precision, aux,
        aux_weight, pretrain_epochs, stage1_folds, optimizer, l2: see
            :class:`~automoa.models.torch_family.TorchFamily`.
    """

    name = "tabnet"
    requires = ("pytorch_tabnet", INSTALL)
    fitted_class = FittedTabNet

    def __init__(
        self,
        n_d: int = 32,
        n_a: int = 32,
        n_steps: int = 1,
        gamma: float = 1.3,
        lambda_sparse: float = 0.0,
        n_independent: int = 1,
        n_shared: int = 1,
        virtual_batch_size: int = 128,
        momentum: float = 0.02,
        mask_type: str = "entmax",
        lr: float = 2e-2,
        weight_decay: float = 1e-5,
        scheduler: str = "plateau",
        epochs: int = 50,
        batch_size: int = 1024,
        patience: int = 10,
        n_seeds: int = 1,
        precision: str = "float32",
        aux: str = "none",
        aux_weight: float = 0.5,
        pretrain_epochs: int = 10,
        stage1_folds: int = 3,
        optimizer: str = "adamw",
        l2: float = 1e-5,
    ) -> None:
        if mask_type not in MASK_TYPES:
            raise ValueError(f"mask_type must be one of {MASK_TYPES}, got {mask_type!r}")
        if n_d < 1 or n_a < 1 or n_steps < 1 or n_independent + n_shared < 1:
            raise ValueError("n_d, n_a and n_steps must be >= 1, n_independent + n_shared >= 1")
        if gamma < 1 or lambda_sparse < 0 or virtual_batch_size < 2:
            raise ValueError("gamma must be >= 1, lambda_sparse >= 0, virtual_batch_size >= 2")
        super().__init__(**constructor_arguments(locals()))

    def first_width(self) -> int:
        return self.params["n_d"]

    def body_spec(self, n_in: int) -> dict[str, Any]:
        keys = (
            "n_d",
            "n_a",
            "n_steps",
            "gamma",
            "lambda_sparse",
            "n_independent",
            "n_shared",
            "virtual_batch_size",
            "momentum",
            "mask_type",
        )
        return {"n_in": n_in, **{key: self.params[key] for key in keys}}
