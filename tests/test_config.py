"""The stored form of a pipeline configuration: trials and bundles written before keep loading."""

from __future__ import annotations

import json

from automoa.config import LossConfig, PipelineConfig, StepConfig

# A trial's "config" user attribute as every earlier version wrote it (the loss as name + params).
STORED = (
    '{"family": "mlp", "loss": {"name": "focal", "params": {"alpha": 0.25, "gamma": 2.0}}, '
    '"model_params": {"dropout": 0.2, "hidden_size": 256}, "preprocessing": [{"name": '
    '"quantile", "params": {"n_quantiles": 100}}, {"fit_on": "train+test", "id": "pca_cells", '
    '"name": "pca", "params": {"n_components": 5}}]}'
)
CONFIG = PipelineConfig(
    "mlp",
    {"hidden_size": 256, "dropout": 0.2},
    (
        StepConfig("quantile", {"n_quantiles": 100}),
        StepConfig("pca", {"n_components": 5}, "pca_cells", "train+test"),
    ),
    LossConfig("focal", {"gamma": 2.0, "alpha": 0.25}),
)


def test_the_json_form_is_unchanged() -> None:
    assert CONFIG.to_json() == STORED
    assert PipelineConfig("prior").to_json() == (
        '{"family": "prior", "loss": null, "model_params": {}, "preprocessing": []}'
    )


def test_a_stored_config_loads_with_its_loss() -> None:
    config = PipelineConfig.from_dict(json.loads(STORED))
    assert config == CONFIG
    assert isinstance(config.loss, LossConfig) and config.loss.to_dict() == {
        "name": "focal",
        "params": {"alpha": 0.25, "gamma": 2.0},
    }
    assert PipelineConfig.from_dict({"family": "prior", "loss": None}).loss is None
