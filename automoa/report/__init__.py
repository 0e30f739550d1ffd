"""Leaderboards and reports of studies."""

from automoa.report.leaderboard import leaderboard, status

__all__ = ["leaderboard", "status"]
