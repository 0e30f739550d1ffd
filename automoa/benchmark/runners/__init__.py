"""Stand-alone scripts run by other AutoML systems' own Python (see ``external.py``).

They import only numpy, pandas and the system they drive, never automoa: they run in a virtual
environment made for that system.
"""
