"""The ONNX inputs and outputs of an exported matcher by name, and its metadata: what each
input holds and how to prepare it, what each output means (:mod:`hepattn.export.matcher`)."""

from __future__ import annotations

from typing import Any

from hepattn.topology import JETS, Topology

__all__ = [
    "aliases",
    "decode_io",
    "decode_metadata",
    "matcher_metadata",
    "other_collection_flags",
    "regression_metadata",
    "regression_outputs",
    "topology_io",
]


def aliases(topology: Topology) -> list[tuple[int, str]]:
    """(resonance index, alias) of every alias the topology's resonances declare."""
    return [(i, a) for i, r in enumerate(topology.resonances) for a in r.aliases]


def regression_outputs(regressions=(), classifications=()) -> list[str]:
    """The outputs of the regression heads (keys of :class:`~hepattn.topology.Regression`)
    and of the classification heads (:class:`~hepattn.topology.Classification`), the names
    ``hepattn match`` writes: ``<key>``, ``<key>_sigma`` for each regression, then
    ``EVENT_<class>_prob`` for each class."""
    out = [name for key in regressions for name in (key, f"{key}_sigma")]
    return out + [name for c in classifications for name in c.outputs()]


def topology_io(
    topology: Topology, detection: bool = True, regressions=(), classifications=()
) -> tuple[list[str], list[str]]:
    """(input names, output names) of an exported matcher of ``topology`` (module doc);
    ``regressions``: the keys of the model's regressions, ``classifications`` its
    classifications, whose outputs come last."""
    inputs = ["x", "p4", "mask"]
    for c in topology.collections:
        if c.name != JETS:
            inputs += [f"{c.name}_x", f"{c.name}_p4", f"{c.name}_mask"]
    outputs = [f"log_prob_{r.name}" for r in topology.resonances]
    outputs += ["detection"] if detection else []
    outputs += [f"log_prob_{a}" for _, a in aliases(topology)]
    return inputs, outputs + regression_outputs(regressions, classifications)


def decode_io(
    topology: Topology, regressions=(), classifications=()
) -> tuple[list[str], list[str]]:
    """(input names, output names) of a matcher exported with ``decode=True``."""
    tail = regression_outputs(regressions, classifications)
    return topology_io(topology)[0], ["assignment", "probability", *tail]


def regression_metadata(regressions, classifications=()) -> dict[str, Any]:
    """The outputs of the regression and classification heads and their meaning (empty
    without them)."""
    if not regressions and not classifications:
        return {}
    outputs = {
        name: {"dtype": "float32", "shape": ["B"]}
        for name in regression_outputs([r.key for r in regressions], classifications)
    }
    if not regressions:
        return {"outputs": outputs, **_classification_metadata(classifications)}
    return {
        **_classification_metadata(classifications),
        "outputs": outputs,
        "regressions": {r.key: {"field": r.field, "resonance": r.resonance} for r in regressions},
        "regression_description": (
            "<key>[b] = the regressed value of the event's target (regressions: the input "
            "field it was trained on), in that field's units; <key>_sigma[b] = its Gaussian "
            "uncertainty (the network's σ, same units). EVENT_<name> are event-level, "
            "<R>_<name> belong to resonance R (the resonance whose jets assignment gives as R)."
        ),
    }


def _classification_metadata(classifications) -> dict[str, Any]:
    if not classifications:
        return {}
    return {
        "classifications": {c.name: list(c.classes) for c in classifications},
        "classification_description": (
            "EVENT_<class>_prob[b] = the probability that event b is of that class (softmax "
            "over each classification's classes; the first class is the topology's own events)"
        ),
    }


def other_collection_flags(topology: Topology) -> list[bool]:
    """Per parton (parton order): drawn from a collection other than the jets."""
    return [r.source(i) != JETS for r in topology.resonances for i in range(len(r.daughters))]


def matcher_metadata(loaded, detection: bool = True) -> dict[str, Any]:
    """The ``metadata_props`` of an exported matcher (before they are made strings)."""
    topo = loaded.topology
    data = loaded.run.data
    std = loaded.standardizers["objects"]
    inputs, outputs = topology_io(
        topo, detection, [r.key for r in loaded.regressions], loaded.classifications
    )
    meta: dict[str, Any] = {
        "task": "matcher",
        "kind": "matcher",
        "schema": data.schema,
        "collection": data.collection,
        "max_objects": data.max_objects,
        "feature_names": list(std.features),
        "feature_means": list(std.mean),
        "feature_stds": list(std.std),
        "topology": topo.name,
        "topology_declaration": topo.declaration(),
        "inputs": {
            "x": {"dtype": "float32", "shape": ["B", "N", len(std.features)]},
            "p4": {"dtype": "float32", "shape": ["B", "N", 4], "components": "px,py,pz,E"},
            "mask": {"dtype": "bool", "shape": ["B", "N"]},
        },
    }
    text = [
        "x, p4, mask: the jets of the event, sorted by decreasing pT and truncated to "
        "max_objects (any N is accepted), real jets first then padding; x[b, n] = per-jet "
        "features in the order of feature_names, standardized as (value - feature_means) / "
        "feature_stds; p4[b, n] = (px, py, pz, E) in GeV, not standardized; mask[b, n] = True "
        "for a real jet, False for padding (padded values are ignored)."
    ]
    for c in loaded.others():
        cs = loaded.standardizers[c.name]
        meta["inputs"][f"{c.name}_x"] = {"dtype": "float32", "shape": ["B", 1, len(cs.features)]}
        meta["inputs"][f"{c.name}_p4"] = {
            "dtype": "float32",
            "shape": ["B", 1, 4],
            "components": "px,py,pz,E",
        }
        meta["inputs"][f"{c.name}_mask"] = {"dtype": "bool", "shape": ["B", 1]}
        meta[f"{c.name}_feature_names"] = list(cs.features)
        meta[f"{c.name}_feature_means"] = list(cs.mean)
        meta[f"{c.name}_feature_stds"] = list(cs.std)
        if c.transverse:
            text.append(
                f"{c.name}_x, {c.name}_p4, {c.name}_mask: the event's missing transverse "
                f"momentum as one object: {c.name}_x[b, 0, 0] = log({c.name}_pt / GeV) "
                f"standardized with {c.name}_feature_means / {c.name}_feature_stds; "
                f"{c.name}_p4[b, 0] = ({c.name}_pt cos {c.name}_phi, {c.name}_pt sin "
                f"{c.name}_phi, 0, {c.name}_pt); {c.name}_mask[b, 0] = True."
            )
        else:
            text.append(
                f"{c.name}_x, {c.name}_p4, {c.name}_mask: the leading {c.name} (one object per "
                f"event); {c.name}_x[b, 0] = its features in the order of "
                f"{c.name}_feature_names ({', '.join(data.object_features)}), standardized "
                f"with {c.name}_feature_means / {c.name}_feature_stds; {c.name}_p4[b, 0] = "
                f"(px, py, pz, E) in GeV; {c.name}_mask[b, 0] = True (the model needs the "
                f"{c.name})."
            )
    assert list(meta["inputs"]) == inputs
    meta["preprocessing"] = " ".join(text)
    meta["outputs"] = {
        f"log_prob_{r.name}": {"dtype": "float32", "shape": ["B", *(["N"] * r.order)]}
        for r in topo.resonances
    }
    if detection:
        meta["outputs"]["detection"] = {"dtype": "float32", "shape": ["B", len(topo.resonances)]}
    for r in topo.resonances:
        for a in r.aliases:
            meta["outputs"][f"log_prob_{a}"] = {
                **meta["outputs"][f"log_prob_{r.name}"],
                "alias_of": f"log_prob_{r.name}",
            }
    reg = regression_metadata(loaded.regressions, loaded.classifications)
    meta["outputs"].update(reg.pop("outputs", {}))
    meta.update(reg)
    assert list(meta["outputs"]) == outputs
    meta["assignment_order"] = topo.order_string
    meta["head_order"] = {
        r.name: [r.daughters[i] for i in r.head_order if r.source(i) == JETS]
        for r in topo.resonances
    }
    meta["output_description"] = (
        "log_prob_R[b, i, ...] = log P under resonance R's head of the jet tuple (i, ...) in "
        "slots of x, one index per jet daughter in the order of head_order[R] (exchangeable "
        "daughters first; the tensor is symmetric in them: the unordered tuple has probability "
        "k! P for k exchangeable daughters); -inf where a slot is padded or repeated; all -inf "
        "when an event has fewer real jets than R has jet daughters. "
        + (
            "detection[b, r] = probability that resonance r (declaration order) is "
            "reconstructable. "
            if detection
            else ""
        )
        + "log_prob_<alias>: the same as log_prob_R of the resonance R the alias names "
        "(alias_of; names earlier versions gave the outputs). A full "
        "assignment takes one tuple per resonance with no jet used twice (hepattn decodes it "
        "exactly, maximising the summed log P); daughters from other collections are their "
        "collection's one object."
    )
    return meta


def decode_metadata(topology: Topology, k: int) -> dict[str, Any]:
    """What ``decode=True`` changes in :func:`onnx_metadata`: the outputs and their meaning."""
    names = [r.name for r in topology.resonances]
    others = [
        p for r, p in zip(other_collection_flags(topology), topology.qualified, strict=True) if r
    ]
    text = (
        "assignment[b, p] = the jet of parton p (assignment_order) as its slot among the N "
        "jets fed in x/p4/mask (the order you fed them: map it back through your own pT sort "
        "to your file's jet order), -1 where none. "
        + (
            f"Daughters from another collection ({', '.join(others)}) are 0, that "
            "collection's one object (as hepattn match writes). "
            if others
            else ""
        )
        + "probability[b, r] = the probability of the jet tuple chosen for resonance r "
        "(resonance_order) under its head, with unordered exchangeable daughters (k! P for k "
        "of them), NaN where r got no tuple. An event with fewer real jets than all "
        "resonances need gets the best assignment of the largest set of resonances its jets "
        "can serve (ties: the earlier resonances), the others -1 / NaN; too few jets for any: "
        "all -1 / NaN. Decoding: per resonance its head's decode_k most probable distinct "
        "tuples; every combination of one per resonance with no jet used twice is scored by "
        "the summed log P and the best is taken (hepattn match decodes exactly, widening the "
        "search when needed: the two differ only when the best combination lies outside a "
        "head's top decode_k)."
    )
    return {
        "outputs": {
            "assignment": {"dtype": "int64", "shape": ["B", topology.n_partons]},
            "probability": {"dtype": "float32", "shape": ["B", len(names)]},
        },
        "decode": "fixed-k joint decoding in the graph (hepattn.nn.decoding.decode_fixed_k)",
        "decode_k": k,
        "assignment_order": topology.order_string,
        "resonance_order": names,
        "output_description": text,
    }
