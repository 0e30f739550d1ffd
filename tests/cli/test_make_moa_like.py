"""``automoa data make-moa-like --mode``: the nonlinear mode and a bad mode."""

from pathlib import Path

from typer.testing import CliRunner

from automoa.cli import app

SMALL = ["--rows", "200", "--targets", "5"]


def _invoke(*args: object):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_nonlinear_mode_writes_the_true_probabilities(tmp_path: Path) -> None:
    result = _invoke("data", "make-moa-like", tmp_path / "nl", *SMALL, "--mode", "nonlinear")
    assert result.exit_code == 0, result.output
    assert "nonlinear" in result.output
    assert (tmp_path / "nl" / "true_probabilities_train.csv").is_file()
    assert (tmp_path / "nl" / "true_probabilities_test.csv").is_file()
    check = _invoke("data", "check", tmp_path / "nl")
    assert check.exit_code == 0, check.output
    assert "true_probabilities" not in check.output
    linear = _invoke("data", "make-moa-like", tmp_path / "lin", *SMALL)
    assert (
        linear.exit_code == 0 and not (tmp_path / "lin" / "true_probabilities_train.csv").exists()
    )


def test_an_unknown_mode_is_a_one_line_error(tmp_path: Path) -> None:
    result = _invoke("data", "make-moa-like", tmp_path / "x", *SMALL, "--mode", "cubic")
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines == ["error: --mode: expected one of linear, nonlinear (got 'cubic')"]
    assert "Traceback" not in result.output and not (tmp_path / "x").exists()
