"""Test helpers shipped with automoa: conformance suites for extension authors."""

from automoa.testing.conformance import check_model_family, tiny_problem

__all__ = ["check_model_family", "tiny_problem"]
