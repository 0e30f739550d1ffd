import pytest

from automoa.benchmark.runner import kept_run_task, run_label
from automoa.benchmark.tasks import benchmark_tasks
from automoa.exceptions import ConfigError


@pytest.mark.parametrize("outer", [1, 0])
def test_a_kept_runs_name_gives_back_its_task(tmp_path, outer):
    folds = 2 if outer else 1
    made = list(
        benchmark_tasks(
            "moa-like-2k", datasets_dir=None, cache_dir=tmp_path, outer_folds=3, folds_to_run=folds
        )
    )[outer]
    run = tmp_path / "runs" / run_label(made, "automoa", 300.0, 0)
    task = kept_run_task(run, datasets_dir=None, cache_dir=tmp_path)
    assert run.name == f"moa-like-2k-{outer}of3-automoa-300-s0"
    assert task.fold == made.fold
    assert (task.Y_test == made.Y_test).all()


def test_a_name_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="not a kept benchmark run"):
        kept_run_task(tmp_path / "notes", datasets_dir=None, cache_dir=tmp_path)
