"""The ensemble step at the end of a search: stored with the study, test predictions written."""

import numpy as np
import pandas as pd
import pytest

import automoa
from automoa.data.dataset import Dataset
from automoa.exceptions import StudyError
from automoa.metrics import mean_columnwise_log_loss
from automoa.search.ensembling import stored_ensemble


def _dataset(n=240, n_test=30):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    Y = (X[:, :3] + 0.5 * rng.normal(size=(n, 3)) > 0.8).astype(np.uint8)
    known_negative = np.zeros(n, dtype=bool)
    known_negative[:20] = True
    Y[known_negative] = 0
    test_kn = np.zeros(n_test, dtype=bool)
    test_kn[:4] = True
    return Dataset(
        X=X,
        Y=Y,
        feature_names=tuple(f"f{i}" for i in range(6)),
        target_names=("a", "b", "c"),
        ids=np.array([f"r{i}" for i in range(n)]),
        known_negative=known_negative,
        X_test=rng.normal(size=(n_test, 6)).astype(np.float32),
        test_ids=np.array([f"t{i}" for i in range(n_test)]),
        test_known_negative=test_kn,
        name="toy",
        id_name="sig_id",
        fingerprint="f" * 64,
    )


def test_search_ends_with_a_stored_ensemble_and_a_submission(tmp_path):
    data = _dataset()
    outcome = automoa.search(data, budget="2m", space="fast", workdir=tmp_path, max_trials=4)
    report = outcome.ensemble
    assert report is not None and report.n_candidates >= 2
    complete = {t.number: t.value for t in outcome.study.trials if t.value is not None}
    assert set(report.members) <= set(complete)
    assert sum(report.weights) == pytest.approx(1.0)
    assert report.best_single == min(complete.values())
    # The floor: never estimated worse than the best single trial.
    assert report.honest_score <= report.best_single + 1e-12
    assert np.isfinite(report.honest_score)
    assert stored_ensemble(automoa.open_study(workdir=tmp_path)) == report

    submission = pd.read_csv(report.submission)
    assert list(submission.columns) == ["sig_id", "a", "b", "c"]
    assert list(submission["sig_id"]) == list(data.test_ids)
    assert (submission.iloc[:4, 1:] == 0).all().all()  # known-negative test rows
    assert submission.iloc[4:, 1:].gt(0).all().all()


def test_ensemble_command_rebuilds_the_same_ensemble(tmp_path):
    data = _dataset()
    first = automoa.search(data, budget="2m", space="fast", workdir=tmp_path, max_trials=3)
    again = automoa.api.ensemble(data, workdir=tmp_path)
    assert again.members == first.ensemble.members
    assert again.weights == first.ensemble.weights
    assert again.score == pytest.approx(first.ensemble.score)


def _member_oofs(tmp_path, study, report):
    from automoa.search.artifacts import load_array
    from automoa.search.study import resolve_location

    store = resolve_location("toy", tmp_path).open_artifacts().store
    trials = {t.number: t for t in study.trials}
    return [load_array(store, trials[n].user_attrs["oof_artifact"]) for n in report.members]


def test_without_level2_and_clipping_the_score_is_the_metric_of_the_weighted_blend(tmp_path):
    data = _dataset()
    outcome = automoa.search(
        data, budget="2m", space="fast", workdir=tmp_path, max_trials=4, ensemble=False
    )
    report = automoa.api.ensemble(data, workdir=tmp_path, stacking=False, clipping=False)
    assert report.method == "average" and report.clip is None
    assert {s["kind"] for s in report.stages} <= {"selection", "floor"}
    oofs = _member_oofs(tmp_path, outcome.study, report)
    blend = sum(w * o.astype(np.float64) for w, o in zip(report.weights, oofs, strict=True))
    blend[data.known_negative] = 0.0
    assert mean_columnwise_log_loss(data.Y, blend) == pytest.approx(report.score, rel=1e-5)


def test_each_choice_is_the_best_honest_estimate_and_the_stored_combiner_reproduces_it(tmp_path):
    from automoa.search.ensembling import stored_combiner
    from automoa.search.study import resolve_location

    data = _dataset()
    outcome = automoa.search(
        data, budget="2m", space="fast", workdir=tmp_path, max_trials=6, ensemble=False
    )
    report = automoa.api.ensemble(data, workdir=tmp_path)
    stages = {s["stage"]: s for s in report.stages}
    assert {"best_single", "greedy", "calibration", "cross_label", "stacking", "clipping"} <= set(
        stages
    )
    selection = [s for s in report.stages if s["kind"] == "selection"]
    ran = [s for s in selection if s["honest_score"] is not None]
    best_selection = min(ran, key=lambda s: s["honest_score"])
    level2 = [s for s in report.stages if s["kind"] == "level2"]
    scored = [s for s in level2 if s["honest_score"] is not None]
    assert stages["calibration"] in scored
    winner = min(scored, key=lambda s: s["honest_score"])
    level2_wins = winner["honest_score"] < best_selection["honest_score"]
    if report.floor:
        assert [s["stage"] for s in report.stages if s["kept"]] == ["floor"]
        assert report.members == [min(outcome.study.best_trials, key=lambda t: t.number).number]
        assert report.honest_score == pytest.approx(report.best_single)
    else:
        assert report.selection == best_selection["stage"] and best_selection["kept"]
        for stage in level2:
            assert stage["kept"] == (stage is winner and level2_wins)
        expected = winner["stage"] if level2_wins else "average"
        assert report.method == expected
        assert (report.clip is not None) == stages["clipping"]["kept"]
        assert report.honest_score <= report.best_single
    # The reported score is the stored combiner applied to the members' OOFs.
    combiner = stored_combiner(outcome.study, resolve_location("toy", tmp_path))
    oofs = _member_oofs(tmp_path, outcome.study, report)
    combined = combiner.combine(oofs, data.known_negative)
    assert mean_columnwise_log_loss(data.Y, combined) == pytest.approx(report.score, rel=1e-6)
    assert (combined[data.known_negative] == 0).all()


def test_ensemble_refuses_other_data_and_empty_studies(tmp_path):
    data = _dataset()
    automoa.search(data, budget="1m", space="fast", workdir=tmp_path, max_trials=1)
    other = Dataset(**{**data.__dict__, "fingerprint": "0" * 64})
    with pytest.raises(StudyError, match="created on other data"):
        automoa.api.ensemble(other, workdir=tmp_path)
    with pytest.raises(StudyError):
        automoa.api.ensemble(data, workdir=tmp_path / "nothing-here")


def test_search_without_ensemble(tmp_path):
    outcome = automoa.search(
        _dataset(), budget="1m", space="fast", workdir=tmp_path, max_trials=1, ensemble=False
    )
    assert outcome.ensemble is None
    assert stored_ensemble(outcome.study) is None


def test_seed_averaged_members_go_through_the_same_honest_selection(tmp_path):
    from automoa.search.ensembling import stored_combiner
    from automoa.search.pruning import is_seed_sibling
    from automoa.search.study import resolve_location

    data = _dataset()
    outcome = automoa.search(
        data, budget="2m", space="fast", workdir=tmp_path, max_trials=4, ensemble=False
    )
    plain = automoa.api.ensemble(data, workdir=tmp_path)
    report = automoa.api.ensemble(data, workdir=tmp_path, seeds=1)
    study = automoa.open_study(workdir=tmp_path)
    siblings = {t.user_attrs["seed_of"]: t.number for t in study.trials if is_seed_sibling(t)}
    # One extra seed for every member of the plain ensemble that has one.
    origins = [n for n in plain.members if n in {t.number for t in outcome.study.trials}]
    assert set(siblings) == set(origins)
    assert report.seed_gain is not None
    if report.seed_gain >= 0:  # the seed-averaged candidates won the honest comparison
        assert report.seed_groups
        for group in report.seed_groups:
            assert group[1:] == [siblings[group[0]]]
            weights = [report.weights[report.members.index(n)] for n in group]
            assert weights == pytest.approx([weights[0]] * len(group))
    else:
        assert not report.seed_groups and not set(report.members) & set(siblings.values())
    assert report.honest_score <= plain.honest_score + 1e-12
    combiner = stored_combiner(study, resolve_location("toy", tmp_path))
    combined = combiner.combine(_member_oofs(tmp_path, study, report), data.known_negative)
    assert mean_columnwise_log_loss(data.Y, combined) == pytest.approx(report.score, rel=1e-6)
    # Asked again, the siblings are reused, not re-trained.
    again = automoa.api.ensemble(data, workdir=tmp_path, seeds=1)
    assert len(automoa.open_study(workdir=tmp_path).trials) == len(study.trials)
    assert all("already trained" in note for note in again.seed_notes)
    assert again.members == report.members
