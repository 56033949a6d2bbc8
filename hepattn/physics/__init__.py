"""Pure tensor physics functions: kinematics and pairwise features of 4-momenta, and the
neutrino of a leptonic W decay (:mod:`hepattn.physics.neutrino`, numpy or torch).

Everything here works on padded tensors ``(..., N, 4)`` of ``(px, py, pz, E)`` in GeV, has its
formula in its docstring, and guards every logarithm and square root so that padded and
zero-pT objects give finite values and gradients.
"""

from hepattn.physics.kinematics import (
    EPS,
    invariant_mass,
    mass2,
    phi,
    pt,
    pt2,
    rapidity,
    wrap_phi,
)
from hepattn.physics.neutrino import M_W, neutrino_p4, neutrino_pz
from hepattn.physics.pairwise import (
    PAIR_FEATURES,
    delta,
    ln_delta,
    ln_kt,
    ln_m2,
    ln_z,
    pair_features,
)

__all__ = [
    "EPS",
    "M_W",
    "PAIR_FEATURES",
    "delta",
    "ln_delta",
    "ln_kt",
    "ln_m2",
    "ln_z",
    "invariant_mass",
    "mass2",
    "neutrino_p4",
    "neutrino_pz",
    "pair_features",
    "phi",
    "pt",
    "pt2",
    "rapidity",
    "wrap_phi",
]
