"""automoa: AutoML for multi-label tabular classification under heavy label imbalance."""

__version__ = "0.1.0"
