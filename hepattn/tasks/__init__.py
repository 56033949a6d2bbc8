"""Tasks: one :class:`~hepattn.tasks.base.Task` base and its two tasks.

- :mod:`hepattn.tasks.base`: reading, training (:meth:`Task.train`, the one training entry
  point), saving, loading and evaluating, with hooks for what differs per task;
- :mod:`hepattn.tasks.tagging`: :class:`~hepattn.tasks.tagging.Tagger`, prong tagging;
- :mod:`hepattn.tasks.matching`: :class:`~hepattn.tasks.matching.Matcher`, jet–parton
  matching in all-hadronic tt̄; :mod:`hepattn.tasks.comparison`: the matcher against the χ²;
- :mod:`hepattn.tasks.presets`: task names, tagger kinds, class names and run configs
  (light: no torch).

This package ``__init__`` imports nothing, so that :mod:`~hepattn.tasks.presets` stays light.
"""
