"""Constituents reached through index maps, the way CMS PFNano stores them.

PFNano keeps the particle-flow candidates of an event once (``PFCands_*``) and, for the AK8
jets, an association table (``FatJetPFCands_*``) whose entries pair a jet
(``FatJetPFCands_jetIdx``) with a candidate (``FatJetPFCands_pFCandsIdx``). A tagger wants the
candidates *per jet*: :func:`group_by_jet` turns the association into ``[events][jets]
[constituents]`` records — from uproot arrays (:func:`pfnano_constituents`) or from coffea's
NanoEvents (``events.FatJetPFCands.pf`` and ``.jetIdx``, :func:`group_by_jet` directly) —
which :func:`hepattn.api.tag` takes as it takes towers (``pt, eta, phi`` and ``e`` or
``mass``). Within a jet the constituents keep the association's order.

An index outside its collection (a jet index ≥ the event's number of jets, a candidate index
≥ its number of candidates, a negative one) is one :class:`~hepattn.errors.DataError`
naming the branch, the event and the value — never a silently wrong jet.
"""

from __future__ import annotations

import os

import awkward as ak
import numpy as np

from hepattn.errors import DataError

__all__ = ["PFNANO_FATJET", "group_by_jet", "pfnano_constituents"]

#: The PFNano branches of the AK8 jets' constituents.
PFNANO_FATJET = {
    "jets": "nFatJet",
    "jet_index": "FatJetPFCands_jetIdx",
    "candidate_index": "FatJetPFCands_pFCandsIdx",
    "candidates": "PFCands",
}


def _check_index(index: ak.Array, limit: np.ndarray, what: str) -> None:
    """Every ``index[e][i]`` in ``[0, limit[e])``, else a :class:`DataError`."""
    counts = np.asarray(ak.num(index, axis=1))
    flat = np.asarray(ak.flatten(index), dtype=np.int64)
    bound = np.repeat(np.asarray(limit, dtype=np.int64), counts)
    bad = (flat < 0) | (flat >= bound)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        event = int(np.searchsorted(np.cumsum(counts), k, side="right"))
        raise DataError(
            f"{what}: index {int(flat[k])} in event {event} is outside [0, {int(bound[k])}) "
            f"({int(bad.sum())} such entries)"
        )


def group_by_jet(items: ak.Array, jet_index: ak.Array, n_jets, what: str = "jet index") -> ak.Array:
    """``[events][jets][items]``: the association entries ``items`` (``[events][entries]``)
    grouped by their jet ``jet_index`` (``[events][entries]``), ``n_jets[e]`` jets per event
    (jets without entries get none). ``what`` names the index in errors."""
    n_jets = np.asarray(n_jets, dtype=np.int64)
    _check_index(jet_index, n_jets, what)
    counts = np.asarray(ak.num(jet_index, axis=1), dtype=np.int64)
    first_jet = np.concatenate([[0], np.cumsum(n_jets)[:-1]])  # global id of each event's jet 0
    gid = np.asarray(ak.flatten(jet_index), dtype=np.int64) + np.repeat(first_jet, counts)
    order = np.argsort(gid, kind="stable")  # events stay in order: their ids are increasing
    per_jet = np.bincount(gid, minlength=int(n_jets.sum()))
    flat = ak.flatten(items, axis=1)[order]
    return ak.unflatten(ak.unflatten(flat, per_jet), n_jets)


def pfnano_constituents(
    path: str | os.PathLike,
    tree: str = "Events",
    entry_stop: int | None = None,
    branches: dict[str, str] | None = None,
) -> ak.Array:
    """``[events][AK8 jets][candidates]`` records ``pt, eta, phi, mass`` (and ``e``) of the
    particle-flow candidates of each AK8 jet of a PFNano file (:data:`PFNANO_FATJET`;
    ``branches`` overrides those names, e.g. for the AK4 ``JetPFCands``)."""
    import uproot

    b = {**PFNANO_FATJET, **(branches or {})}
    cands = b["candidates"]
    names = [b["jets"], b["jet_index"], b["candidate_index"], f"n{cands}"]
    names += [f"{cands}_{x}" for x in ("pt", "eta", "phi", "mass")]
    try:
        with uproot.open(path) as f:
            t = f[tree]
            missing = [n for n in names if n not in t]
            if missing:
                raise DataError(f"{path}: tree {tree!r} has no branch {missing[0]!r} (PFNano)")
            a = t.arrays(names, entry_stop=entry_stop)
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot be read as PFNano ({err})") from None
    _check_index(a[b["candidate_index"]], np.asarray(a[f"n{cands}"]), b["candidate_index"])
    pf = ak.zip({x: a[f"{cands}_{x}"] for x in ("pt", "eta", "phi", "mass")})
    picked = pf[a[b["candidate_index"]]]  # [events][entries]
    p = np.sqrt(
        np.square(picked.pt * np.cosh(picked.eta)) + np.square(picked.mass)
    )  # E = sqrt(|p|² + m²)
    picked = ak.with_field(picked, p, "e")
    return group_by_jet(picked, a[b["jet_index"]], a[b["jets"]], b["jet_index"])
