"""The package version, in a module of its own so core modules never import the package face.

``pyproject.toml`` states the same version for the build; keep the two in step.
"""

__version__ = "0.1.0"
