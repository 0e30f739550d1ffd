"""automoa."""
