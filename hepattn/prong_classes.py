"""The prong classes of the tagger and of the generated prong samples, declared once.

Light on purpose (no torch, no numpy): the generator (:mod:`hepattn.generate.prongs`), which
writes the labels, and the tagging task and command line (:mod:`hepattn.tasks.presets`,
:mod:`hepattn.tasks.tagging`), which read them, both import them from here.
"""

from __future__ import annotations

__all__ = ["CLASSES"]

#: Prong classes in label order (label = position): 1 (QCD), 2 (q q̄), 3 (u d s), 4b (h h →
#: 4 b), 4q (W W → 4 q), 6 (t t̄) and 8 (h h → 4 W → 8 q); see :mod:`hepattn.generate.prongs`.
CLASSES: tuple[str, ...] = ("1", "2", "3", "4b", "4q", "6", "8")
