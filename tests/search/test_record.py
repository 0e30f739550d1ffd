"""TrialRecord: the typed trial user attributes, and the format they are stored in."""

import ast
import dataclasses
from pathlib import Path

import optuna
import pytest

import automoa
from automoa.search.record import TrialRecord

#: A trial's attributes as automoa has always stored them: attribute name -> JSON value.
STORED = {
    "family": "mlp",
    "config": {
        "family": "mlp",
        "model_params": {"hidden": 256, "dropout": 0.2},
        "preprocessing": [{"name": "quantile", "params": {}, "id": None, "fit_on": "train"}],
        "loss": None,
    },
    "seed": 1000003,
    "device": "cpu",
    "predicted_fold_seconds": 1.25,
    "first_trial": True,
    "seed_of": 4,
    "owner": {"host": "node-1", "pid": 1234, "beat": 1700000000.5},
    "oof_artifact": "a1b2-oof.npy",
    "models_artifact": "a1b2-models.zip",
    "test_artifact": "a1b2-test.npy",
    "fold_scores": [0.0172, 0.0168, 0.0171],
    "fold_seconds": [1.5, 1.25, 1.75],
    "fit_seconds": 4.5,
    "cv_std": 0.00017,
    "versions": {"automoa": "0.1.0", "numpy": "2.0.0"},
    "seconds": 5.5,
    "prune_reason": "pruned at fold 1",
    "failure_reason": "ValueError: boom",
}


@pytest.fixture(params=["memory", "sqlite"])
def study(request, tmp_path):
    """A study in memory, and one in SQLite (values go through JSON there)."""
    storage = None if request.param == "memory" else f"sqlite:///{tmp_path / 'record.db'}"
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    return optuna.create_study(storage=storage)


def _frozen(study, number):
    return next(t for t in study.get_trials(deepcopy=False) if t.number == number)


def test_every_stored_attribute_is_a_field_of_the_same_name():
    assert [f.name for f in dataclasses.fields(TrialRecord)] == list(STORED)


def test_a_trial_written_the_old_way_reads_as_typed_fields(study):
    trial = study.ask()
    for name, value in STORED.items():  # raw keys: a study written before TrialRecord
        trial.set_user_attr(name, value)
    study.tell(trial, 0.017)
    for source in (trial, _frozen(study, trial.number)):  # running and frozen trials alike
        assert TrialRecord.read(source) == TrialRecord(**STORED)
    record = TrialRecord.read(_frozen(study, trial.number))
    assert record.seed == 1000003
    assert record.fold_scores == [0.0172, 0.0168, 0.0171]
    assert record.config["model_params"] == {"hidden": 256, "dropout": 0.2}


def test_a_written_record_is_stored_under_the_old_names_and_values(study):
    trial = study.ask()
    TrialRecord(**STORED).write(trial)
    study.tell(trial, 0.017)
    frozen = _frozen(study, trial.number)
    assert frozen.user_attrs == STORED
    assert TrialRecord.read(frozen) == TrialRecord(**STORED)


def test_partial_records_write_only_their_fields_and_keep_the_others(study):
    trial = study.ask()
    TrialRecord(family="linear", config={"family": "linear"}, seed=0).write(trial)
    TrialRecord(fold_scores=[0.2], fold_seconds=[0.5]).write(trial)
    TrialRecord(seconds=0.75, prune_reason="budget: no time").write(trial)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    frozen = _frozen(study, trial.number)
    assert frozen.user_attrs == {
        "family": "linear",
        "config": {"family": "linear"},
        "seed": 0,
        "fold_scores": [0.2],
        "fold_seconds": [0.5],
        "seconds": 0.75,
        "prune_reason": "budget: no time",
    }


def test_falsy_values_are_written_none_is_not(study):
    trial = study.ask()
    TrialRecord(seed=0, fold_scores=[], first_trial=False, cv_std=0.0).write(trial)
    assert trial.user_attrs == {"seed": 0, "fold_scores": [], "first_trial": False, "cv_std": 0.0}


def test_missing_attributes_read_as_none(study):
    trial = study.ask()
    assert TrialRecord.read(trial) == TrialRecord()
    trial.set_user_attr("family", "xgboost")
    trial.set_user_attr("not_automoa", 1)  # somebody else's attribute: ignored
    study.tell(trial, state=optuna.trial.TrialState.FAIL)
    record = TrialRecord.read(_frozen(study, trial.number))
    assert record == TrialRecord(family="xgboost")
    assert all(
        getattr(record, f.name) is None for f in dataclasses.fields(record) if f.name != "family"
    )
    assert record.reason is None


def test_write_to_storage_sets_the_attributes_of_a_trial_by_id(study):
    trial = study.ask()
    TrialRecord(failure_reason="its worker died").write_to_storage(study._storage, trial._trial_id)
    # A running Trial object caches its attributes: the stored trial tells.
    assert _frozen(study, trial.number).user_attrs == {"failure_reason": "its worker died"}


def test_attrs_are_what_an_enqueued_trial_is_given(study):
    study.enqueue_trial({"x": 1.0}, user_attrs=TrialRecord(seed_of=3, seed=7).attrs())
    (queued,) = study.get_trials(deepcopy=False)
    assert queued.user_attrs == {"seed_of": 3, "seed": 7}
    assert TrialRecord.read(queued) == TrialRecord(seed=7, seed_of=3)


def test_the_reason_is_the_failure_else_the_prune_reason():
    assert TrialRecord(failure_reason="boom", prune_reason="pruned").reason == "boom"
    assert TrialRecord(prune_reason="pruned").reason == "pruned"
    assert TrialRecord(failure_reason="", prune_reason="pruned").reason == "pruned"


#: Receivers of ``user_attrs`` / ``set_user_attr`` that are studies (study attributes are
#: StudyMeta's and friends', not TrialRecord's); anything else is taken for a trial.
STUDY_RECEIVERS = {"study", "self.study", "outcome.study", "opened"}


def _trial_attribute_uses(path):
    """``(line, source)`` of each place in ``path`` that touches trial user attributes directly."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            by_id = node.attr in ("set_trial_user_attr", "get_trial_user_attrs")
            on_trial = node.attr in ("user_attrs", "set_user_attr") and (
                ast.unparse(node.value) not in STUDY_RECEIVERS
            )
            if by_id or on_trial:
                yield node.lineno, ast.unparse(node)
        # e.g. enqueue_trial(params, user_attrs={"seed": 1}): TrialRecord(...).attrs() instead
        elif (
            isinstance(node, ast.keyword)
            and node.arg == "user_attrs"
            and isinstance(node.value, ast.Dict)
        ):
            yield node.lineno, ast.unparse(node)


def test_only_the_record_touches_trial_user_attributes():
    package = Path(automoa.__file__).parent
    record = package / "search" / "record.py"
    found = [
        f"{path.relative_to(package.parent)}:{line}: {source}"
        for path in sorted(package.rglob("*.py"))
        if path != record
        for line, source in _trial_attribute_uses(path)
    ]
    assert found == [], "read and write trial attributes through TrialRecord:\n" + "\n".join(found)


def test_the_scan_sees_trial_attribute_uses(tmp_path):
    path = tmp_path / "module.py"
    path.write_text(
        "trial.user_attrs.get('seed')\n"
        "trial.set_user_attr('seed', 1)\n"
        "storage.set_trial_user_attr(1, 'seed', 1)\n"
        "study.enqueue_trial({}, user_attrs={'seed_of': 1})\n"
        "study.user_attrs.get('automoa')\n"  # a study attribute: fine
        "study.enqueue_trial({}, user_attrs=record.attrs())\n"  # fine
    )
    assert sorted(line for line, _ in _trial_attribute_uses(path)) == [1, 2, 3, 4]
