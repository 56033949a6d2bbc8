"""Tasks: one :class:`~hepattn.tasks.base.Task` base and its two tasks.

- :mod:`hepattn.tasks.base`: reading, saving, loading and evaluating, with hooks for what
  differs per task, and the one training entry point (:meth:`Task.train`);
- :mod:`hepattn.tasks.trainer`: the training orchestration behind it
  (:func:`~hepattn.tasks.trainer.train_task` with its
  :class:`~hepattn.tasks.trainer.TrainOptions`);
- :mod:`hepattn.tasks.tagging`: :class:`~hepattn.tasks.tagging.Tagger`, prong tagging;
- :mod:`hepattn.tasks.matching`: :class:`~hepattn.tasks.matching.Matcher`, jet–parton
  matching for every declared topology (all-hadronic tt̄ by default), its run config in
  :mod:`hepattn.tasks.matcher_config`; :mod:`hepattn.tasks.comparison`: the matcher against
  its topology's classical baseline;
- :mod:`hepattn.tasks.presets`: task names, tagger kinds and run configs (light: no torch;
  the prong classes are declared in :mod:`hepattn.prong_classes`).

This package ``__init__`` imports nothing, so that :mod:`~hepattn.tasks.presets` stays light.
"""
