"""Search spaces shipped with automoa (YAML files)."""
