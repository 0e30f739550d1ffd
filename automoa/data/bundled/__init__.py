"""Datasets bundled with automoa."""
