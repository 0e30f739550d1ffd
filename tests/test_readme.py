"""The README's Python section: its examples run, and its API reference matches the docstrings."""

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _api_reference_tool():
    spec = importlib.util.spec_from_file_location("api_reference", ROOT / "tools/api_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _python_examples() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Python: notebooks and scikit-learn pipelines", 1)[1]
    section = section.split("#### API reference", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_the_api_reference_is_rendered_from_the_current_docstrings():
    tool = _api_reference_tool()
    readme = (ROOT / "README.md").read_text()
    assert tool.updated_readme(readme) == readme, "run: make api-docs"
    assert "#### `automoa.AutoMoAClassifier(" in readme
    assert "##### `automoa.SearchResult.oof(" in readme


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::automoa.exceptions.DataWarning")  # a rare label in a split
def test_the_notebook_examples_run(tmp_path, monkeypatch, capsys):
    notebook, pipeline = _python_examples()
    monkeypatch.chdir(tmp_path)
    # The examples as written, with a trial cap so that the test takes seconds, not minutes.
    capped = notebook.replace('budget="1m",', 'budget="1m", max_trials=2,')
    assert capped.count("max_trials=2") == 2
    namespace: dict = {}
    exec(compile(capped, "README notebook example", "exec"), namespace)
    assert namespace["proba"].shape == (917, 14)
    assert (tmp_path / "yeast-model" / "manifest.json").exists()
    assert namespace["oof"].shape == (1500, 14)
    printed = capsys.readouterr().out
    held_out = float(re.search(r"held-out log loss ([0-9.]+)", printed).group(1))
    assert held_out < 0.48  # the prior (each label's training rate) scores about 0.50 on yeast
    capped = pipeline.replace('budget="30s",', 'budget="30s", max_trials=1,')
    assert "max_trials=1" in capped
    exec(compile(capped, "README pipeline example", "exec"), namespace)
    assert namespace["scores"].shape == (3,)
