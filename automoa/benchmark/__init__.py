"""``automoa benchmark``: automoa against baselines and other AutoML systems on held-out rows.

:mod:`~automoa.benchmark.tasks` (tasks and outer splits), :mod:`~automoa.benchmark.systems`
(in-process systems), :mod:`~automoa.benchmark.external` (AutoGluon and FLAML in their own
environments), :mod:`~automoa.benchmark.runner` (the protocol and the result files),
:mod:`~automoa.benchmark.summary` (normalised scores and ranks),
:mod:`~automoa.benchmark.report` (tables and plots), :mod:`~automoa.benchmark.presets` (the
quick and full presets and the entry point the CLI calls).
"""
