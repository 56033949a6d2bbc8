"""Truth labels for a user's own simulation: which jet each parton of a topology made.

The rule is the generator's (:func:`hepattn.generate.matching.match_unique`): ΔR < ``max_dr``
(0.4 by default), each parton at most one jet and each jet at most one parton, the globally
closest (parton, jet) pair first. Jets are the schema's ``jets`` collection, indexed in the
file's own order. Only the topology's *jet* daughters are matched; a slot drawn from another
collection (the lepton and neutrino of ``ttbar-ljets``) always gets −1 in ``parton_jet``.

Partons come from one of two sources:

``schema``
    the schema has a collection named ``partons`` (any kinematics with eta/phi, e.g.
    ``parton_pt``, ``parton_eta``, ``parton_phi``, ``parton_mass``) holding, per event,
    exactly the topology's partons **in its parton order** (``b, q1, q2, b′, q1′, q2′`` for
    ``ttbar-allhad``; see ``hepattn/topology.py``). A parton with a non-finite η or φ is
    treated as absent (no jet). An event with another number of partons is not labelled.

``genpart``
    CMS NanoAOD ``GenPart_*`` (pdgId, genPartIdxMother, statusFlags, pt, eta, phi). Each
    particle's chain of copies (a daughter with the same pdgId as its mother is a copy) is
    reduced to its first copy; the *decay products* of a particle are the first copies
    (``statusFlags`` bit 12, ``isFirstCopy``) of other particles whose mother is any copy of
    it, in GenPart index order. Their kinematics are those of that first copy. The built-in
    topologies are filled as follows:

    - ``ttbar-allhad``: ``t1`` = the top (pdgId +6), ``t2`` = the anti-top (−6); per top, b =
      its quark (|id| ≤ 5), q1, q2 = its W's two quarks in GenPart index order. Both Ws must
      decay to quarks.
    - ``ttbar-ljets``: ``t_had`` = the top whose W decays to two quarks (b_had, q1, q2 as
      above), ``t_lep`` = the one whose W decays to a charged lepton (e, μ, τ) and a
      neutrino (b_lep, l, nu; l and nu are not jets). Exactly one of each.
    - ``hh-4b``: ``H1``, ``H2`` = the two Higgs bosons (pdgId 25) in GenPart index order;
      b1, b2 (b3, b4) = the two b quarks of each, in index order.

    Other topologies need the ``schema`` source.

Events whose partons cannot be found (a chain that cannot be followed, a decay other than
the topology's, a wrong number of partons) are **kept**, so that the output stays aligned
entry by entry with the input, with every label −1; their number is returned and logged as a
warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from hepattn.errors import DataError
from hepattn.generate.matching import match_unique
from hepattn.topology import Topology

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_MAX_DR",
    "GENPART_BRANCHES",
    "GENPART_FINDERS",
    "IS_FIRST_COPY",
    "LabelResult",
    "genpart_partons",
    "label_events",
    "label_file",
    "match_rule",
]

#: The generator's matching radius.
DEFAULT_MAX_DR = 0.4
#: NanoAOD ``GenPart_statusFlags`` bit 12: the first copy of a particle.
IS_FIRST_COPY = 1 << 12
#: GenPart branches read (role -> branch).
GENPART_BRANCHES = {
    "pdgid": "GenPart_pdgId",
    "mother": "GenPart_genPartIdxMother",
    "flags": "GenPart_statusFlags",
    "eta": "GenPart_eta",
    "phi": "GenPart_phi",
}

QUARKS = frozenset(range(1, 6))
CHARGED_LEPTONS = frozenset((11, 13, 15))
NEUTRINOS = frozenset((12, 14, 16))


def match_rule(max_dr: float, source: str) -> str:
    """The sentence stored as the output's ``rule``."""
    where = (
        "NanoAOD GenPart (first copies after the decay, following genPartIdxMother)"
        if source == "genpart"
        else "the schema's parton branches (in the topology's parton order)"
    )
    return (
        f"Delta R < {max_dr:g}, unique (each parton at most one jet, each jet at most one "
        f"parton), globally closest pair first; partons from {where}"
    )


@dataclass
class LabelResult:
    """Labels of a set of events.

    Attributes:
        jet_parton: per event, per jet (file order), the parton slot (topology parton order)
            of the matched parton, or −1; list of int32 arrays.
        parton_jet: int32 ``[E, P]``: the jet index matched to each parton slot, or −1.
        n_failed: events whose partons could not be found (labelled −1 throughout).
    """

    jet_parton: list[np.ndarray]
    parton_jet: np.ndarray
    n_failed: int


def _first_copies(pdgid: np.ndarray, mother: np.ndarray) -> np.ndarray:
    """Per particle (flat, global indices), the index of the first copy of its chain."""
    n = len(pdgid)
    root = np.arange(n)
    has = mother >= 0
    same = np.zeros(n, dtype=bool)
    same[has] = pdgid[mother[has]] == pdgid[has]
    root[same] = mother[same]
    for _ in range(64):  # pointer jumping: 2^64 copies are plenty
        nxt = root[root]
        if np.array_equal(nxt, root):
            return root
        root = nxt
    raise DataError("GenPart_genPartIdxMother holds a cycle")


def _flat(x, dtype) -> tuple[np.ndarray, np.ndarray]:
    """``(values, counts)`` of a per-event sequence (awkward array or lists of arrays)."""
    import awkward as ak

    arr = x if isinstance(x, ak.Array) else ak.Array([np.asarray(r).tolist() for r in x])
    if len(arr) == 0:
        return np.zeros(0, dtype), np.zeros(0, np.int64)
    values = ak.to_numpy(ak.flatten(arr, axis=1)).astype(dtype, copy=False)
    return values, ak.to_numpy(ak.num(arr, axis=1)).astype(np.int64)


def _rows(x, dtype=np.float64) -> list[np.ndarray]:
    """A per-event sequence as a list of numpy arrays (views of one flat array)."""
    values, counts = _flat(x, dtype)
    return np.split(values, np.cumsum(counts)[:-1]) if len(counts) else []


def _genpart_events(pdgid, mother, flags) -> Iterator[tuple[np.ndarray, dict[int, list[int]]]]:
    """Per event: its pdgIds and the decay products (local indices) of each first copy.

    The copies and mothers are resolved on the flat arrays of all events at once; only the
    small per-event grouping of decay products is a Python loop."""
    ids, counts = _flat(pdgid, np.int64)
    local, n_mother = _flat(mother, np.int64)
    flag, n_flag = _flat(flags, np.int64)
    if not (np.array_equal(counts, n_mother) and np.array_equal(counts, n_flag)):
        raise DataError("GenPart branches have different numbers of particles per event")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    start = np.repeat(offsets[:-1], counts)
    size = np.repeat(counts, counts)
    valid = (local >= 0) & (local < size)
    glob = np.where(valid, local + start, -1)
    root = _first_copies(ids, glob)
    first = (flag & IS_FIRST_COPY) != 0
    dau = first & valid
    dau[valid] &= ids[glob[valid]] != ids[valid]
    parent = np.full(len(ids), -1, dtype=np.int64)
    parent[dau] = root[glob[dau]]
    for e in range(len(counts)):
        lo, hi = offsets[e], offsets[e + 1]
        products: dict[int, list[int]] = {}
        for i in np.flatnonzero(parent[lo:hi] >= 0):
            products.setdefault(int(parent[lo + i] - lo), []).append(int(i))
        yield ids[lo:hi], products


def _top(ids, products, top: int) -> tuple[str, list[int]] | None:
    """``("had", [b, q1, q2])`` or ``("lep", [b, l, nu])`` for the top at index ``top``."""
    dau = products.get(top, [])
    b = [d for d in dau if abs(ids[d]) in QUARKS]
    w = [d for d in dau if abs(ids[d]) == 24]
    if len(b) != 1 or len(w) != 1:
        return None
    wd = products.get(w[0], [])
    quarks = [d for d in wd if abs(ids[d]) in QUARKS]
    lep = [d for d in wd if abs(ids[d]) in CHARGED_LEPTONS]
    nu = [d for d in wd if abs(ids[d]) in NEUTRINOS]
    if len(quarks) == 2 and not lep and not nu:
        return "had", [b[0], *quarks]
    if len(lep) == 1 and len(nu) == 1 and not quarks:
        return "lep", [b[0], lep[0], nu[0]]
    return None


def _roots(ids, products, pid: int) -> list[int]:
    """First copies with pdgId ``pid`` (those that have decay products), index order."""
    return sorted(i for i in products if ids[i] == pid)


def _tops(ids, products):
    """The top's and the anti-top's ``(decay, partons)`` (:func:`_top`), or None."""
    tops = _roots(ids, products, 6)
    antitops = _roots(ids, products, -6)
    if len(tops) != 1 or len(antitops) != 1:
        return None
    t1, t2 = _top(ids, products, tops[0]), _top(ids, products, antitops[0])
    return None if t1 is None or t2 is None else (t1, t2)


def _ttbar_hadronic(ids, products) -> list[int] | None:
    """Both tops hadronic: the top's partons, then the anti-top's."""
    tops = _tops(ids, products)
    if tops is None or not tops[0][0] == tops[1][0] == "had":
        return None
    return tops[0][1] + tops[1][1]


def _ttbar_semileptonic(ids, products) -> list[int] | None:
    """One top hadronic, one leptonic: the hadronic top's partons, then the leptonic's."""
    tops = _tops(ids, products)
    if tops is None:
        return None
    kinds = {t[0]: t[1] for t in tops}
    return kinds["had"] + kinds["lep"] if set(kinds) == {"had", "lep"} else None


def _hh(ids, products) -> list[int] | None:
    higgs = _roots(ids, products, 25)
    if len(higgs) != 2:
        return None
    out = []
    for h in higgs:
        bs = [d for d in products[h] if abs(ids[d]) == 5]
        if len(bs) != 2 or len(products[h]) != 2:
            return None
        out += bs
    return out


#: How a topology's partons are found in GenPart, by the name its declaration gives
#: (``defaults.genpart``).
GENPART_FINDERS: dict[str, Callable] = {
    "ttbar-hadronic": _ttbar_hadronic,
    "ttbar-semileptonic": _ttbar_semileptonic,
    "hh-bbbb": _hh,
}


def _finder(topology: Topology) -> Callable:
    """The GenPart finder the topology declares; a :class:`DataError` explaining the other
    way (a schema's parton branches) when it declares none."""
    name = topology.defaults.genpart
    if name not in GENPART_FINDERS:
        raise DataError(
            f"topology {topology.name!r}: its partons are not found in GenPart (a topology "
            f"declares how with defaults.genpart: one of {sorted(GENPART_FINDERS)}); give a "
            "schema with a 'partons' collection in the topology's parton order"
        )
    return GENPART_FINDERS[name]


def genpart_partons(topology: Topology, pdgid, mother, flags) -> list[np.ndarray | None]:
    """Per event, the GenPart indices of the topology's partons in parton order, or None.

    ``pdgid``, ``mother``, ``flags``: per-event sequences (awkward or lists of arrays) of
    ``GenPart_pdgId``, ``GenPart_genPartIdxMother``, ``GenPart_statusFlags``.
    """
    find = _finder(topology)
    out: list[np.ndarray | None] = []
    for ids, products in _genpart_events(pdgid, mother, flags):
        found = find(ids, products)
        out.append(None if found is None else np.asarray(found, dtype=np.int64))
    return out


def label_events(
    topology: Topology,
    jet_eta,
    jet_phi,
    parton_eta,
    parton_phi,
    max_dr: float = DEFAULT_MAX_DR,
) -> LabelResult:
    """Match each event's partons to its jets by the generator's rule.

    ``jet_eta``/``jet_phi``: per event, the jets' η, φ (file order); ``parton_eta``/
    ``parton_phi``: per event, the ``topology.n_partons`` partons' η, φ in parton order, or
    None where the partons could not be found (counted in ``n_failed``, labelled −1).
    """
    if not max_dr > 0:
        raise DataError(f"--max-dr must be positive, got {max_dr}")
    n_p = topology.n_partons
    jet_slots = np.array(
        [
            o + i
            for o, r in zip(topology.offsets, topology.resonances, strict=True)
            for i in r.jet_daughters
        ],
        dtype=np.int64,
    )
    parton_jet = np.full((len(jet_eta), n_p), -1, dtype=np.int32)
    jet_parton: list[np.ndarray] = []
    failed = 0
    for e, (je, jp, pe, pp) in enumerate(
        zip(jet_eta, jet_phi, parton_eta, parton_phi, strict=True)
    ):
        je, jp = np.asarray(je, np.float64), np.asarray(jp, np.float64)
        jets = np.full(len(je), -1, dtype=np.int32)
        if pe is None or len(pe) != n_p:
            failed += 1
            jet_parton.append(jets)
            continue
        pe = np.asarray(pe, np.float64)[jet_slots]
        pp = np.asarray(pp, np.float64)[jet_slots]
        ok = np.flatnonzero(np.isfinite(pe) & np.isfinite(pp))
        pj, jp_idx = match_unique(pe[ok], pp[ok], je, jp, max_dr)
        parton_jet[e, jet_slots[ok]] = pj
        hit = jp_idx >= 0
        jets[hit] = jet_slots[ok][jp_idx[hit]]
        jet_parton.append(jets)
    if failed:
        log.warning(
            "%d of %d events: the topology's partons were not found; labelled -1 throughout",
            failed,
            len(jet_eta),
        )
    return LabelResult(jet_parton, parton_jet, failed)


def _eta_phi(coll, arrays, prefix: str):
    """η, φ of a schema collection's objects from a chunk's raw branches."""
    import awkward as ak

    b = coll.branches
    if "eta" in b and "phi" in b:
        return arrays[b["eta"]], arrays[b["phi"]]
    if coll.kinematics == "pxpypze":
        px, py, pz = arrays[b["px"]], arrays[b["py"]], arrays[b["pz"]]
        pt = np.hypot(px, py)
        return np.arcsinh(pz / ak.where(pt > 0, pt, 1e-12)), np.arctan2(py, px)
    raise DataError(f"{prefix}: kinematics {coll.kinematics!r} is not supported for labels")


def label_file(
    path,
    output,
    topology: Topology,
    schema=None,
    tree: str | None = None,
    max_dr: float = DEFAULT_MAX_DR,
    source: str = "auto",
    progress: bool = False,
    step_size: int | str = "100 MB",
    btag_wp: float | None = None,
) -> dict:
    """Label the events of ROOT file ``path`` and write them to ``output`` as the friend
    tree ``labels`` (branches ``jet_parton`` int32[njet], ``parton_jet`` int32[P]; metadata
    ``topology``, ``rule``, ``parton_order``, ``source``).

    ``btag_wp``: also write the b-tag *decision* of each jet at this working point,
    ``jet_btag`` int32[njet] = 1 when the jets' ``btag_score`` field > ``btag_wp`` (metadata
    ``btag_rule``), for models and baselines that read 0/1 decisions (a schema's jets field
    ``btag: jet_btag`` read through the friend); a non-finite score is an error.

    ``schema``: a schema name, YAML path or :class:`~hepattn.data.schema.Schema` (None:
    detected from the file's jets); ``source``: ``"schema"`` (its ``partons`` collection),
    ``"genpart"`` (NanoAOD ``GenPart_*``) or ``"auto"`` (the schema's partons if it has them,
    else GenPart). Returns a summary: ``events``, ``failed``, ``matched`` (parton slots with a
    jet), ``tagged`` (jets with ``jet_btag = 1``), ``source``, ``rule``, ``btag_rule``.
    """
    import awkward as ak

    from hepattn.data.root import iterate_branches, schema_for
    from hepattn.data.writer import TreeWriter
    from hepattn.progress import bar

    if not max_dr > 0:
        raise DataError(f"--max-dr must be positive, got {max_dr}")
    schema = schema_for(path, schema, tree, collections=["jets"])
    jets = schema.collection("jets")
    if source == "auto":
        source = "schema" if "partons" in schema.collections else "genpart"
    if source == "schema":
        partons = schema.collection("partons")
        parton_branches = [partons.branches[r] for r in partons.branches]
    elif source == "genpart":
        partons = None
        _finder(topology)  # raises the explanation when the topology declares no finder
        parton_branches = list(GENPART_BRANCHES.values())
    else:
        raise DataError(f"unknown parton source {source!r} (schema, genpart or auto)")
    btag_branch = _btag_branch(jets, schema, btag_wp)
    extra = [btag_branch] if btag_branch else []
    branches = list(dict.fromkeys([*jets.branches.values(), *parton_branches, *extra]))
    if source == "genpart":
        from hepattn.data.root import open_tree, resolve_paths

        first = resolve_paths(path)[0]
        have = set(open_tree(first, tree, schema).keys())
        for name in parton_branches:
            if name not in have:
                raise DataError(
                    f"{first}: no branch {name!r}: partons are read from NanoAOD GenPart_* "
                    "branches, or from a schema's 'partons' collection (--schema FILE.yaml)"
                )
    rule = match_rule(max_dr, source)
    metadata = {
        "topology": topology.name,
        "rule": rule,
        "parton_order": topology.order_string,
        "source": source,
        "sentinel": "-1 = no parton (jet_parton) / no jet (parton_jet)",
    }
    if btag_branch:
        metadata["btag_rule"] = f"jet_btag = 1 when {btag_branch} > {btag_wp:g}, else 0"
    total = failed = matched = tagged = 0
    with (
        TreeWriter(output, tree="labels", metadata=metadata) as writer,
        bar(progress, desc="label", unit="event") as pbar,
    ):
        for chunk in iterate_branches(path, schema, branches, tree=tree, step_size=step_size):
            arrays = chunk.arrays
            jet_eta, jet_phi = map(_rows, _eta_phi(jets, arrays, f"{chunk.path}: jets"))
            if partons is not None:
                p_eta, p_phi = map(_rows, _eta_phi(partons, arrays, f"{chunk.path}: partons"))
            else:
                g = {k: arrays[v] for k, v in GENPART_BRANCHES.items()}
                idx = genpart_partons(topology, g["pdgid"], g["mother"], g["flags"])
                eta, phi = _rows(g["eta"]), _rows(g["phi"])
                p_eta = [None if i is None else eta[e][i] for e, i in enumerate(idx)]
                p_phi = [None if i is None else phi[e][i] for e, i in enumerate(idx)]
            res = label_events(topology, jet_eta, jet_phi, p_eta, p_phi, max_dr)
            out = {"jet_parton": _jagged(res.jet_parton), "parton_jet": res.parton_jet}
            if btag_branch:
                out["jet_btag"] = _btag_decisions(arrays[btag_branch], btag_wp, chunk, btag_branch)
                tagged += int(ak.sum(out["jet_btag"]))
            writer.extend(out)
            total += len(res.parton_jet)
            failed += res.n_failed
            matched += int((res.parton_jet >= 0).sum())
            pbar.update(len(res.parton_jet))
    return {
        "events": total,
        "failed": failed,
        "matched": matched,
        "tagged": tagged,
        "source": source,
        "rule": rule,
        "btag_rule": metadata.get("btag_rule"),
    }


def _btag_branch(jets, schema, btag_wp: float | None) -> str | None:
    """The branch of the jets' ``btag_score`` field that ``--btag-wp`` cuts (None without
    one); the working point checked."""
    if btag_wp is None:
        return None
    if not np.isfinite(btag_wp):
        raise DataError(f"--btag-wp must be a finite number, got {btag_wp}")
    if "btag_score" not in jets.fields:
        raise DataError(
            f"--btag-wp: the jets of schema {schema.name!r} have no 'btag_score' field; map "
            "your b-tag score branch in a schema (jets: fields: {btag_score: "
            "Jet_btagDeepFlavB}) and give it with --schema"
        )
    return jets.fields["btag_score"]


def _btag_decisions(score, btag_wp: float, chunk, branch: str):
    """``int32[njet]``: 1 where ``score > btag_wp``; a non-finite score is refused, naming
    the file, branch and entry."""
    import awkward as ak

    flat = np.asarray(ak.flatten(score), dtype=np.float64)
    bad = ~np.isfinite(flat)
    if bad.any():
        entry = int(np.searchsorted(np.cumsum(np.asarray(ak.num(score))), np.argmax(bad), "right"))
        raise DataError(
            f"{chunk.path}: {chunk.what} {branch!r}: non-finite b-tag score in entry "
            f"{chunk.start + entry}: cannot tag it at --btag-wp"
        )
    return ak.values_astype(score > btag_wp, np.int32)


def _jagged(rows: list[np.ndarray]):
    import awkward as ak

    counts = np.array([len(r) for r in rows], dtype=np.int64)
    flat = np.concatenate(rows) if rows else np.zeros(0, np.int32)
    return ak.unflatten(flat.astype(np.int32), counts)
