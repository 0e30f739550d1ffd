import numpy as np
import pytest

from automoa.deadline import Deadline
from automoa.ensemble.level2 import standard_stages
from automoa.ensemble.pipeline import PassClock, PipelineOptions, run_pipeline, shortened
from automoa.ensemble.selection import honest_evaluation
from automoa.ensemble.variants import diverse_pool, standard_variants
from automoa.ensemble.weights import fit_constrained_weights
from automoa.exceptions import ConfigError, DataError
from automoa.metrics import mean_columnwise_log_loss


def _problem(n=600, n_labels=5, n_candidates=6, seed=0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(-2.0, 1.5, (n, n_labels))
    Y = (rng.random((n, n_labels)) < 1 / (1 + np.exp(-truth))).astype(np.uint8)
    oofs = []
    for i in range(n_candidates):
        noise = rng.normal(0.0, 0.6 + 0.15 * i, truth.shape)
        oofs.append((1 / (1 + np.exp(-(truth + noise)))).astype(np.float32))
    fold_of = np.arange(n) % 5
    scores = [mean_columnwise_log_loss(Y, p) for p in oofs]
    order = np.argsort(scores)
    return Y, [oofs[i] for i in order], fold_of, [scores[i] for i in order]


def test_pipeline_beats_or_matches_the_best_single_candidate_and_reports_every_stage():
    Y, oofs, fold_of, scores = _problem()
    result = run_pipeline(oofs, Y, fold_of, scores=scores)
    assert result.honest_score <= result.best_single == pytest.approx(min(scores))
    names = [s.stage for s in result.stages]
    assert names[:2] == ["best_single", "greedy"]
    assert {"constrained", "bagged", "calibration", "cross_label"} <= set(names)
    kept_selection = [s.stage for s in result.stages if s.kind == "selection" and s.kept]
    assert kept_selection == [result.selection]
    ran = [s for s in result.stages if s.kind == "selection" and s.honest_score is not None]
    assert result.selection == min(ran, key=lambda s: s.honest_score).stage
    # The honest out-of-fold predictions are those of the kept stages.
    assert mean_columnwise_log_loss(Y, result.honest_oof) == pytest.approx(
        result.honest_score, rel=1e-6
    )
    combined = result.combiner.combine([oofs[i] for i in result.ensemble.members])
    assert mean_columnwise_log_loss(Y, combined) == pytest.approx(result.score, rel=1e-6)


def test_floor_returns_the_best_candidate_when_every_combination_is_worse():
    # Each specialist is near-perfect on one fold and poor elsewhere: selected on the other
    # folds they look good, so every ensemble's honest estimate is poor. The steady candidate
    # is the best single one.
    rng = np.random.default_rng(3)
    n, n_labels = 500, 4
    fold_of = np.arange(n) % 5
    steady = rng.uniform(0.05, 0.6, (n, n_labels)).astype(np.float32)  # the true probabilities
    Y = (rng.random((n, n_labels)) < steady).astype(np.uint8)
    oofs = [steady]
    for fold in range(5):
        spec = np.where(Y == 1, 0.02, 0.9).astype(np.float32)  # confidently wrong
        spec[fold_of == fold] = np.where(Y[fold_of == fold] == 1, 0.999, 0.001)
        oofs.append(spec)
    scores = [mean_columnwise_log_loss(Y, p) for p in oofs]
    assert int(np.argmin(scores)) == 0
    # The best candidate's CV score, as a trial reports it, is a little better than its OOF
    # metric here: the floor compares against it.
    scores[0] -= 0.05
    result = run_pipeline(oofs, Y, fold_of, scores=scores)
    assert result.floor
    assert result.ensemble.members == (0,) and result.combiner.weights == (1.0,)
    assert result.combiner.stacker is None and result.combiner.clip is None
    assert result.selection == "best_single" and result.honest_score == pytest.approx(scores[0])
    assert [s.stage for s in result.stages if s.kept] == ["floor"]
    assert "best single" in result.stages[-1].note


@pytest.mark.parametrize("variant_name", ["greedy", "greedy_init", "bagged", "constrained"])
def test_selection_variants_never_see_the_fold_they_are_scored_on(variant_name):
    Y, oofs, fold_of, _ = _problem(seed=1)
    groups = [str(i % 3) for i in range(len(oofs))]
    variants = {v.name: v for v in standard_variants(groups, init_best=3)}
    variant = variants[variant_name]
    poisoned = Y.copy()
    poisoned[fold_of == 2] = 1 - poisoned[fold_of == 2]
    for labels in (Y, poisoned):
        ens = variant.select(oofs, labels, fold_of != 2, None)
        if labels is Y:
            clean = ens
    assert ens == clean  # fold 2's labels never reach the selection made without it
    changed = Y.copy()
    changed[fold_of == 0] = 1 - changed[fold_of == 0]
    assert variant.select(oofs, changed, fold_of != 2, None) != clean


@pytest.mark.parametrize("stage_name", ["calibration", "cross_label", "stacking"])
def test_level2_stages_never_see_the_fold_they_are_scored_on(stage_name):
    Y, oofs, fold_of, _ = _problem(seed=2)
    stage = {s.name: s for s in standard_stages()}[stage_name]
    selection = honest_evaluation(oofs, Y, fold_of, max_iterations=10)
    clean = stage.honest(oofs, Y, fold_of, selection, None)
    poisoned = Y.copy()
    poisoned[fold_of == 3] = 1 - poisoned[fold_of == 3]
    dirty = stage.honest(oofs, poisoned, fold_of, selection, None)
    in_fold = fold_of == 3
    np.testing.assert_array_equal(dirty.oof[in_fold], clean.oof[in_fold])
    assert not np.array_equal(dirty.oof[~in_fold], clean.oof[~in_fold])


def test_constrained_weights_are_a_simplex_point_that_beats_the_candidates():
    Y, oofs, _, scores = _problem(seed=4, n_candidates=3)
    ens = fit_constrained_weights(oofs, Y)
    assert all(w > 0 for w in ens.weights) and sum(ens.weights) == pytest.approx(1.0)
    assert ens.score < min(scores)
    # Two candidates: the optimum matches a fine grid over the weight of the first.
    pair = fit_constrained_weights(oofs[:2], Y)
    grid = np.linspace(0, 1, 201)
    losses = [mean_columnwise_log_loss(Y, w * oofs[0] + (1 - w) * oofs[1]) for w in grid]
    assert pair.score <= min(losses) + 1e-6
    with pytest.raises(DataError, match="no candidates"):
        fit_constrained_weights([], Y)


def test_diverse_pool_keeps_the_best_few_per_group():
    groups = ["mlp|a", "mlp|a", "mlp|a", "mlp|a", "linear|", "mlp|b", "linear|"]
    assert diverse_pool(groups, 2, 10).tolist() == [0, 1, 4, 5, 6]
    assert diverse_pool(groups, 2, 3).tolist() == [0, 1, 4]
    with pytest.raises(ConfigError):
        diverse_pool(groups, 0, 3)


def test_greedy_init_and_greedy_over_the_best_candidates_are_options():
    groups = [f"family{i % 2}|chain{i % 3}" for i in range(80)]  # a diverse pool of 18

    def variants(**options):
        return {v.name: v for v in standard_variants(groups, **options)}

    wide = variants(init_best=3, top_pool=50)
    assert {"greedy_init", "greedy_top"} <= set(wide)
    assert wide["greedy_top"].pool.tolist() == list(range(50))  # the best 50 by order
    assert variants(top_pool=100)["greedy_top"].pool.tolist() == list(range(80))
    assert list(variants(init_best=0, top_pool=0)) == [
        "best_single",
        "greedy",
        "constrained",
        "bagged",
    ]
    assert "greedy_top" not in variants(top_pool=18)  # no wider than the diverse pool
    Y, oofs, fold_of, scores = _problem()
    lean = PipelineOptions(init_best=0, top_pool=0, level2=(), clipping=False)
    result = run_pipeline(oofs, Y, fold_of, scores=scores, groups=["g"] * len(oofs), options=lean)
    assert {s.stage for s in result.stages} == {"best_single", "greedy", "constrained", "bagged"}


def test_a_spent_deadline_skips_the_costly_stages_and_still_returns_an_ensemble():
    Y, oofs, fold_of, scores = _problem(seed=5)
    result = run_pipeline(oofs, Y, fold_of, scores=scores, deadline=Deadline(1e-9))
    skipped = [s for s in result.stages if s.honest_score is None and s.kind != "floor"]
    assert {s.stage for s in skipped} >= {"greedy", "constrained", "calibration"}
    assert all("left" in s.note or "one member" in s.note for s in skipped)
    assert result.selection == "best_single" and len(result.ensemble.members) == 1


def test_pipeline_rejects_malformed_scores_and_options():
    Y, oofs, fold_of, scores = _problem(n=100, n_candidates=2)
    with pytest.raises(DataError, match="scores"):
        run_pipeline(oofs, Y, fold_of, scores=scores[:1])
    with pytest.raises(DataError, match="groups"):
        run_pipeline(oofs, Y, fold_of, scores=scores, groups=["a"])
    with pytest.raises(ConfigError, match="level2"):
        run_pipeline(oofs, Y, fold_of, scores=scores, options=PipelineOptions(level2=("magic",)))


def test_a_greedy_that_does_not_fit_runs_fewer_steps_and_others_are_skipped():
    variants = {v.name: v for v in standard_variants([str(i) for i in range(8)], init_best=3)}
    greedy = variants["greedy"]
    short = shortened(greedy, predicted=100.0, remaining=50.0)
    assert short is not None and short.options["max_iterations"] == 15  # 50 x 0.6 x 50 / 100
    assert short.options["shortlist"] == greedy.options["shortlist"]
    assert "15 steps of 50" in short.note
    assert shortened(greedy, predicted=100.0, remaining=10.0) is None  # 3 steps: not worth it
    assert shortened(greedy, predicted=100.0, remaining=float("inf")) is None
    assert shortened(variants["constrained"], predicted=100.0, remaining=50.0) is None
    # init_best members are added first: a shortened greedy_init keeps room for one more step
    assert shortened(variants["greedy_init"], predicted=100.0, remaining=12.0) is None


def test_the_pipeline_runs_a_shortened_greedy_when_the_whole_one_does_not_fit(monkeypatch):
    Y, oofs, fold_of, scores = _problem()
    # Every candidate pass predicted at 10 ms: the whole greedy (6 candidates x 50 steps, plus
    # the nested folds) would need ~15 s, and the deadline leaves about 3.
    monkeypatch.setattr(PassClock, "predict", lambda self, passes: passes * 0.01)
    result = run_pipeline(oofs, Y, fold_of, scores=scores, deadline=Deadline(3.0))
    greedy = next(s for s in result.stages if s.stage == "greedy")
    assert greedy.honest_score is not None
    assert "steps of 50 to fit the time left" in greedy.note
    assert result.honest_score <= result.best_single + 1e-12
