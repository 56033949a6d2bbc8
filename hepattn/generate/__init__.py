"""Realistic samples from Pythia 8 and FastJet with a Delphes-ATLAS-like calorimeter.

- :mod:`~hepattn.generate.detector`: towers, smearing, thresholds, b-tag;
- :mod:`~hepattn.generate.clustering`: FastJet anti-kt jets and truth flavour;
- :mod:`~hepattn.generate.matching`: ΔR and unique parton–jet matching;
- :mod:`~hepattn.generate.ttbar`, :mod:`~hepattn.generate.prongs`: the two processes;
- :mod:`~hepattn.generate.runner`: parallel, chunked, resumable writing;
- :mod:`~hepattn.generate.plots`: validation plots.

Pythia (``pythia8mc``) and FastJet are imported only when generating; without them a
:class:`hepattn.errors.HepattnError` says ``pip install 'hepattn[gen]'``.
"""
