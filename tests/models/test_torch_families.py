"""The torch families (mlp, tabnet) and their shared training loop."""

import numpy as np
import pytest
import torch

from automoa.config import LossConfig
from automoa.deadline import Deadline
from automoa.exceptions import BudgetExhausted
from automoa.metrics import mean_columnwise_log_loss, prior_probabilities
from automoa.models import get_family
from automoa.models import torch_training as tt

SMALL = {
    "mlp": {"hidden_size": 32, "epochs": 8, "batch_size": 64},
    "tabnet": {"n_d": 8, "n_a": 8, "epochs": 8, "batch_size": 128, "virtual_batch_size": 64},
}


def _data(seed=0, n=600, d=10):
    """Learnable labels (one rare), and auxiliary labels related to the features."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    Y = np.column_stack(
        [X[:, 0] > 0.3, X[:, 1] + X[:, 2] > 1.0, X[:, 3] > 2.0, X[:, 4] * X[:, 5] > 0.5]
    ).astype(np.uint8)
    Y_aux = np.column_stack([X[:, 0] > 0.0, X[:, 1] > 0.5, np.zeros(n)]).astype(np.uint8)
    return X, Y, Y_aux


@pytest.mark.parametrize("name", ["mlp", "tabnet"])
def test_learns_better_than_the_prior(name):
    X, Y, _ = _data()
    Xv, Yv, _ = _data(seed=1, n=300)
    params = {**SMALL[name], "epochs": 30, "lr": 1e-2}
    model = get_family(name)(**params).fit(X, Y, X_valid=Xv, Y_valid=Yv, seed=0)
    prior = np.tile(prior_probabilities(Y), (len(Xv), 1))
    assert mean_columnwise_log_loss(Yv, model.predict_proba(Xv)) < 0.75 * mean_columnwise_log_loss(
        Yv, prior
    )


def test_keeps_the_weights_of_the_best_validation_epoch():
    X, Y, _ = _data()
    Xv, Yv, _ = _data(seed=1, n=200)
    torch.manual_seed(0)
    family = get_family("mlp")(**SMALL["mlp"])
    net = get_family("mlp").fitted_class.build_net(
        {**family.body_spec(10), "n_main": 4, "n_aux": 0}, torch.device("cpu")
    )
    # A high constant rate overfits quickly, so the best epoch is not the last one.
    settings = tt.TrainSettings(
        epochs=25, batch_size=32, lr=3e-2, scheduler="constant", patience=25, precision="float32"
    )
    with tt.torch_threads(1):  # tiny products: one thread is fastest
        outcome = tt.train_network(
            net,
            tt.as_tensor(X[:150], torch.device("cpu")),
            Y[:150],
            lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(z, t),
            settings,
            valid=(tt.as_tensor(Xv, torch.device("cpu")), Yv),
        )
    assert outcome.epochs_run == 25
    assert outcome.best_valid_loss == min(outcome.history)
    assert outcome.history.index(min(outcome.history)) + 1 == outcome.best_epoch
    logits = tt.predict_logits(net, tt.as_tensor(Xv, torch.device("cpu")))
    kept = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.from_numpy(Yv.astype(np.float32))
    )
    assert float(kept) == pytest.approx(outcome.best_valid_loss, rel=1e-5)


def _train(settings, X, Y, Xv, Yv, seed=0):
    torch.manual_seed(seed)
    family = get_family("mlp")(**SMALL["mlp"])
    net = get_family("mlp").fitted_class.build_net(
        {**family.body_spec(X.shape[1]), "n_main": Y.shape[1], "n_aux": 0}, torch.device("cpu")
    )
    with tt.torch_threads(1):  # tiny products: one thread is fastest
        outcome = tt.train_network(
            net,
            tt.as_tensor(X, torch.device("cpu")),
            Y,
            lambda z, t: torch.nn.functional.binary_cross_entropy_with_logits(z, t),
            settings,
            valid=(tt.as_tensor(Xv, torch.device("cpu")), Yv),
        )
    return net, outcome


@pytest.mark.parametrize("scheduler", ["plateau", "constant"])
def test_patience_stops_schedules_that_can_stop(scheduler):
    X, Y, _ = _data()
    Xv, Yv, _ = _data(seed=1, n=200)
    settings = tt.TrainSettings(epochs=200, batch_size=64, lr=3e-2, patience=2, scheduler=scheduler)
    _, outcome = _train(settings, X, Y, Xv, Yv)
    assert outcome.epochs_run < 200
    assert outcome.epochs_run - outcome.best_epoch == 2


def test_onecycle_runs_every_epoch_and_keeps_the_best():
    X, Y, _ = _data()
    Xv, Yv, _ = _data(seed=1, n=200)
    settings = tt.TrainSettings(
        epochs=30, batch_size=64, lr=3e-2, patience=1, scheduler="onecycle", precision="float32"
    )
    net, outcome = _train(settings, X, Y, Xv, Yv)
    history = outcome.history
    # Patience 1 would have stopped at the first epoch that did not improve...
    assert any(later >= min(history[:i]) for i, later in enumerate(history) if i)
    # ... but OneCycle runs to the end of its schedule and keeps its best epoch.
    assert outcome.epochs_run == 30 and len(history) == 30
    assert outcome.best_epoch == history.index(min(history)) + 1
    logits = tt.predict_logits(net, tt.as_tensor(Xv, torch.device("cpu")))
    kept = torch.nn.functional.binary_cross_entropy_with_logits(
        logits, torch.from_numpy(Yv.astype(np.float32))
    )
    assert float(kept) == pytest.approx(outcome.best_valid_loss, rel=1e-5)


def test_optimizer_choice():
    family = get_family("mlp")
    net = torch.nn.Linear(3, 2)
    adam = tt.make_optimizer(net, tt.TrainSettings(optimizer="adam", l2=1e-5))
    adamw = tt.make_optimizer(net, tt.TrainSettings(optimizer="adamw", weight_decay=0.03))
    assert type(adam) is torch.optim.Adam and adam.defaults["weight_decay"] == 1e-5
    assert type(adamw) is torch.optim.AdamW and adamw.defaults["weight_decay"] == 0.03
    # A configuration written before the choice existed trains as it did: AdamW.
    assert family(**SMALL["mlp"]).settings.optimizer == "adamw"

    X, Y, _ = _data(n=400)
    Xv, Yv, _ = _data(seed=1, n=200)
    # 20 epochs of 13 steps at a peak rate of 1e-2: AdamW's decay of 0.3 shrinks the weights
    # by about lr x decay x steps = 0.3 x 1.3 (the rates summed over the schedule).
    params = {**SMALL["mlp"], "epochs": 20, "batch_size": 32, "lr": 1e-2, "weight_norm": False}

    def fit(**extra):
        return family(**params, **extra).fit(X, Y, X_valid=Xv, Y_valid=Yv, seed=0)

    def first_layer_norm(model):
        linear = next(m for m in model.nets[0].modules() if isinstance(m, torch.nn.Linear))
        return float(linear.weight.detach().norm())

    prior = mean_columnwise_log_loss(Yv, np.tile(prior_probabilities(Y), (len(Xv), 1)))
    for optimizer, decay, weak, strong in [
        ("adam", "l2", 1e-5, 1e-1),
        ("adamw", "weight_decay", 1e-5, 3e-1),
    ]:
        light = fit(optimizer=optimizer, **{decay: weak})
        heavy = fit(optimizer=optimizer, **{decay: strong})
        assert mean_columnwise_log_loss(Yv, light.predict_proba(Xv)) < 0.75 * prior
        # The decay acts within the schedule: the weights end up visibly smaller.
        assert first_layer_norm(heavy) < 0.9 * first_layer_norm(light)
    assert not np.allclose(
        fit(optimizer="adam").predict_proba(Xv), fit(optimizer="adamw").predict_proba(Xv)
    )


@pytest.mark.parametrize("name", ["mlp", "tabnet"])
def test_deadline_raises_after_the_epoch_it_passes_in(name):
    X, Y, _ = _data()
    ticks = iter([0.0] * 3)  # the clock jumps past the deadline after a few reads

    def clock():
        return next(ticks, 100.0)

    with pytest.raises(BudgetExhausted, match="epoch"):
        get_family(name)(**{**SMALL[name], "epochs": 50}).fit(
            X, Y, deadline=Deadline(10, clock=clock)
        )


@pytest.mark.parametrize("aux", ["multitask", "pretrain", "two_stage"])
@pytest.mark.parametrize("name", ["mlp", "tabnet"])
def test_auxiliary_modes_change_the_model_and_survive_a_state_round_trip(name, aux):
    from automoa.models import restore

    X, Y, Y_aux = _data()
    Xv, Yv, _ = _data(seed=1, n=100)
    params = {**SMALL[name], "epochs": 4, "pretrain_epochs": 2, "stage1_folds": 2}
    plain = get_family(name)(**params).fit(X, Y, X_valid=Xv, Y_valid=Yv, Y_aux=Y_aux)
    model = get_family(name)(**params, aux=aux).fit(X, Y, X_valid=Xv, Y_valid=Yv, Y_aux=Y_aux)
    proba = model.predict_proba(Xv)
    assert not np.allclose(proba, plain.predict_proba(Xv))
    assert np.array_equal(restore(model.state()).predict_proba(Xv), proba)
    if aux == "two_stage":
        assert len(model.stage1_nets) == 2
    if aux in ("multitask", "pretrain"):
        assert model.nets[0].aux is not None


@pytest.mark.parametrize("aux", ["multitask", "pretrain", "two_stage"])
def test_without_auxiliary_labels_the_modes_fall_back_to_none(aux):
    X, Y, _ = _data(n=200)
    params = {**SMALL["mlp"], "epochs": 3}
    plain = get_family("mlp")(**params).fit(X, Y, seed=3).predict_proba(X)
    never_positive = np.zeros((len(X), 2), dtype=np.uint8)
    for Y_aux in (None, never_positive):
        out = get_family("mlp")(**params, aux=aux).fit(X, Y, seed=3, Y_aux=Y_aux)
        assert np.array_equal(out.predict_proba(X), plain)


def test_two_stage_inner_folds_keep_groups_whole():
    from automoa.models.torch_family import stage1_folds

    _, _, Y_aux = _data(n=300)
    groups = np.repeat(np.arange(100), 3)[np.random.default_rng(0).permutation(300)]
    fold_of = stage1_folds(Y_aux[:, :2], 3, 7, groups)
    assert set(fold_of) == {0, 1, 2}
    for group in np.unique(groups):
        assert len(set(fold_of[groups == group])) == 1
    # Without groups every row is its own group: replicates are split.
    alone = stage1_folds(Y_aux[:, :2], 3, 7, None)
    assert any(len(set(alone[groups == g])) > 1 for g in np.unique(groups))
    assert np.array_equal(alone, stage1_folds(Y_aux[:, :2], 3, 7, None))  # seeded
    with pytest.raises(ValueError, match="groups"):
        stage1_folds(Y_aux[:, :2], 3, 7, groups[:-1])


def _two_stage(X, Y_aux, groups=None, seed=7, folds=3):
    family = get_family("mlp")(
        **{**SMALL["mlp"], "aux": "two_stage", "stage1_folds": folds, "epochs": 3}
    )
    X_t = tt.as_tensor(X, torch.device("cpu"))
    with torch.random.fork_rng(devices=[]), tt.torch_threads(1):
        _, nets, quantile, X_stage2, _ = family._two_stage(
            X_t, None, Y_aux, None, seed, torch.device("cpu"), groups
        )
    return X_t, nets, quantile, X_stage2


def test_two_stage_features_of_training_rows_are_out_of_fold_by_group():
    from automoa.models.torch_family import stage1_folds

    X, _, Y_aux = _data(n=300)
    cols = [0, 1]  # column 2 is never positive: not learned
    groups = np.repeat(np.arange(100), 3)
    X_t, nets, quantile, X_stage2 = _two_stage(X, Y_aux[:, cols], groups)
    fold_of = stage1_folds(Y_aux[:, cols], 3, 7, groups)
    for k, net in enumerate(nets):
        inner_valid = np.flatnonzero(fold_of == k)
        raw = torch.sigmoid(tt.predict_logits(net, X_t[inner_valid])).numpy()
        assert np.allclose(X_stage2[inner_valid, 10:].numpy(), quantile.transform(raw), atol=1e-5)
        # An inner model's predictions of its own training rows are not what stage 2 sees.
        others = np.flatnonzero(fold_of != k)
        seen = torch.sigmoid(tt.predict_logits(net, X_t[others])).numpy()
        assert not np.allclose(X_stage2[others, 10:].numpy(), quantile.transform(seen))


def test_two_stage_outputs_are_rank_gaussed_on_the_training_rows():
    X, _, Y_aux = _data(n=300)
    _, _, quantile, X_stage2 = _two_stage(X, Y_aux[:, :2])
    extra = X_stage2[:, 10:].numpy()
    assert extra.min() < -1.5 and extra.max() > 1.5  # no longer probabilities
    assert np.abs(np.median(extra, axis=0)).max() < 0.1
    assert np.abs(extra.std(axis=0) - 1.0).max() < 0.3
    assert quantile.transformer.quantiles_.shape == (100, 2)  # fitted on the training rows


def test_two_stage_resampled_rows_are_predicted_by_the_model_that_held_out_their_source():
    X, _, Y_aux = _data(n=300)
    copies = np.arange(0, 300, 5)
    X_more = np.vstack([X, X[copies]])  # oversampled copies: no auxiliary labels, no group
    _, _, _, X_stage2 = _two_stage(X_more, Y_aux[:, :2], np.repeat(np.arange(100), 3))
    # A copy's stage-1 features are its source's out-of-fold ones, not an average of models
    # that trained on the source.
    assert np.allclose(X_stage2[300:].numpy(), X_stage2[copies].numpy(), atol=1e-5)


@pytest.mark.parametrize("aux", ["multitask", "pretrain", "two_stage"])
def test_oversampled_rows_without_auxiliary_labels(aux):
    X, Y, Y_aux = _data(n=300)
    extra = np.vstack([X, X[:40] + 0.01])
    model = get_family("mlp")(**{**SMALL["mlp"], "epochs": 3, "aux": aux, "stage1_folds": 2}).fit(
        extra, np.vstack([Y, Y[:40]]), Y_aux=Y_aux, seed=0
    )
    assert model.predict_proba(X).shape == Y.shape


def test_losses_reach_training():
    X, Y, _ = _data(n=300)
    outs = {
        name: get_family("mlp")(**{**SMALL["mlp"], "epochs": 3})
        .fit(X, Y, seed=0, loss=LossConfig(name, params))
        .predict_proba(X)
        for name, params in [
            ("bce", {}),
            ("smoothed_bce", {"smoothing": 0.01}),
            ("focal", {"gamma": 2.0, "alpha": 0.25}),
            ("bce", {"pos_weight": "log"}),
        ]
    }
    values = list(outs.values())
    assert all(not np.array_equal(a, b) for i, a in enumerate(values) for b in values[i + 1 :])


@pytest.mark.parametrize("architecture", ["mlp", "resnet2"])
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_architectures_and_precisions_are_deterministic(architecture, precision):
    X, Y, _ = _data(n=300)
    params = {
        **SMALL["mlp"],
        "epochs": 3,
        "architecture": architecture,
        "precision": precision,
        "n_seeds": 2,
        "n_layers": 3,
        "hidden_decay": 0.5,
        "activation": "prelu",
    }
    first = get_family("mlp")(**params).fit(X, Y, seed=5)
    assert len(first.nets) == 2
    assert [m.out_features for m in first.nets[0].modules() if isinstance(m, torch.nn.Linear)][
        :3
    ] == [32, 16, 8]
    again = get_family("mlp")(**params).fit(X, Y, seed=5)
    assert np.array_equal(first.predict_proba(X), again.predict_proba(X))
    other_seed = get_family("mlp")(**params).fit(X, Y, seed=6)
    assert not np.array_equal(first.predict_proba(X), other_seed.predict_proba(X))


def test_fitting_leaves_global_random_state_and_threads_alone():
    X, Y, _ = _data(n=200)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    threads = torch.get_num_threads()
    get_family("mlp")(**{**SMALL["mlp"], "epochs": 2}).fit(X, Y, seed=0)
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads


def test_tabnet_sparsity_penalty_and_plateau_schedule():
    # pytorch-tabnet's own loop crashes with ReduceLROnPlateau (tabnet#586); ours passes the
    # validation loss to it.
    X, Y, _ = _data(n=400)
    Xv, Yv, _ = _data(seed=1, n=100)
    params = {**SMALL["tabnet"], "epochs": 4, "scheduler": "plateau", "n_steps": 2}
    plain = get_family("tabnet")(**params).fit(X, Y, X_valid=Xv, Y_valid=Yv)
    sparse = get_family("tabnet")(**params, lambda_sparse=1e-2).fit(X, Y, X_valid=Xv, Y_valid=Yv)
    assert not np.allclose(plain.predict_proba(Xv), sparse.predict_proba(Xv))


def test_worker_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv(tt.THREADS_ENV, "3")
    assert tt.worker_threads() == 3
    monkeypatch.setenv(tt.THREADS_ENV, "zero")
    assert tt.worker_threads() >= 1


def test_precision_auto_follows_the_hardware():
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if tt.bf16_supported(cpu) else None
    assert tt.autocast_dtype("auto", cpu) == expected
    assert tt.autocast_dtype("float32", cpu) is None
    assert tt.autocast_dtype("bfloat16", cpu) == torch.bfloat16


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("mlp", {"n_layers": 5}),
        ("mlp", {"architecture": "cnn"}),
        ("mlp", {"activation": "tanhh"}),
        ("mlp", {"dropout": 1.0}),
        ("mlp", {"aux": "stacked"}),
        ("mlp", {"scheduler": "cosine"}),
        ("mlp", {"precision": "float16"}),
        ("mlp", {"stage1_folds": 1}),
        ("mlp", {"optimizer": "sgd"}),
        ("mlp", {"l2": -1e-5}),
        ("tabnet", {"optimizer": "rmsprop"}),
        ("tabnet", {"mask_type": "softmax"}),
        ("tabnet", {"gamma": 0.5}),
        ("tabnet", {"batch_size": 1}),
    ],
)
def test_bad_parameters(name, bad):
    with pytest.raises(ValueError):
        get_family(name)(**bad)


def test_bind_fixes_aux_to_none_without_auxiliary_labels():
    from automoa.params import CategoricalParam, ConstantParam

    params = {"aux": CategoricalParam(("none", "multitask"), "none")}
    assert get_family("mlp").bind(params, 0)["aux"] == ConstantParam("none")
    assert get_family("tabnet").bind(params, 5) == params


@pytest.mark.parametrize("rows", [3, 10, 40, 100])
def test_onecycle_with_very_few_steps(rows):
    # One epoch of a few batches once crashed OneCycleLR (a warm-up phase of zero steps).
    X, Y, _ = _data(n=rows)
    model = get_family("mlp")(**{**SMALL["mlp"], "epochs": 1, "batch_size": 8}).fit(X, Y)
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.25, 0.5])
def test_fast_dropout_is_unbiased_and_seeded(rate):
    layer = tt.FastDropout(rate)
    x = torch.ones(400, 1000)
    torch.manual_seed(0)
    out = layer(x)
    dropped = float((out == 0).float().mean())
    assert dropped == pytest.approx(round(rate * 256) / 256, abs=0.005)
    assert float(out.mean()) == pytest.approx(1.0, abs=0.01)  # kept values scaled up
    torch.manual_seed(0)
    assert torch.equal(layer(x), out)
    assert torch.equal(layer.eval()(x), x)
    odd = torch.ones(3, 7)  # sizes that are not a multiple of 8
    assert layer.train()(odd).shape == odd.shape


def test_two_stage_state_is_json_and_arrays_and_older_states_still_load(tmp_path):
    import json

    from automoa.models import restore
    from automoa.models.base import ModelState

    X, Y, Y_aux = _data(n=300)
    params = {**SMALL["mlp"], "epochs": 3, "aux": "two_stage", "stage1_folds": 2}
    model = get_family("mlp")(**params).fit(X, Y, Y_aux=Y_aux, groups=np.arange(300) // 3)
    state = model.state()
    np.savez(tmp_path / "state.npz", allow_pickle=False, **state.arrays)
    with np.load(tmp_path / "state.npz", allow_pickle=False) as npz:
        arrays = dict(npz)
    saved = ModelState(state.family, json.loads(json.dumps(state.meta)), arrays)
    assert np.array_equal(restore(saved).predict_proba(X), model.predict_proba(X))
    # A model saved before stage-1 outputs were rank-gaussed loads and reads raw probabilities.
    old_meta = {k: v for k, v in saved.meta.items() if k != "stage1_quantile"}
    old_arrays = {k: v for k, v in arrays.items() if not k.startswith("stage1_quantile.")}
    old = restore(ModelState(state.family, old_meta, old_arrays))
    assert old.stage1_quantile is None
    assert old.predict_proba(X).shape == Y.shape
