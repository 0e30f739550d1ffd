"""Test helpers shipped with automoa: conformance suites for extension authors."""

from automoa.testing.conformance import check_model_family, check_step, tiny_problem, tiny_table

__all__ = ["check_model_family", "check_step", "tiny_problem", "tiny_table"]
