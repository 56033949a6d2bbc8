"""Export trained taggers and matchers to ONNX, for inference inside C++ frameworks.

:func:`export_onnx` traces the torch reference path of a saved model with torch's
TorchScript ONNX exporter (opset 17 by default; ``dynamo=True`` selects the
``torch.export``-based exporter instead), with dynamic ``batch`` and ``objects`` axes, and
stores in the ONNX ``metadata_props`` everything a user needs to feed the model: input names
and shapes, the feature names in order, the standardization, the output order and the
preprocessing. Padded slots may hold any finite values; the outputs do not depend on them.

Inputs (float32 unless stated):

- ``x[B, N, F]``: standardized per-object features, ``(value - mean) / std`` with the
  ``feature_names``, ``feature_means`` and ``feature_stds`` of the metadata;
- ``p4[B, N, 4]``: ``(px, py, pz, E)`` in GeV, not standardized (absent for a PFN tagger,
  which does not read it);
- ``mask: bool[B, N]``: True = real object. Objects are sorted by decreasing p_T, real ones
  first; values in padded slots are ignored;
- for a ``mass_hl`` tagger only ``hl[B, 17]``: jet mass + 16 substructure features,
  standardized.

Outputs: a tagger gives ``probabilities[B, 7]`` (softmax over the classes 1, 2, 3, 4b, 4q, 6,
8); a matcher gives ``log_prob_top1`` and ``log_prob_top2 [B, N, N, N]``: for each of its two
heads log P(i, j, k) of the triplet with light quarks at object slots i, j and the b at slot
k (P(i, j, k) = P(j, i, k)), −inf where the triplet is invalid (a padded or repeated slot).

**Topology matchers** (``task="topology-matcher"``, or ``"matcher"`` with a ``topology`` other
than ``ttbar-allhad``; :func:`topology_io` gives the names):

- inputs: the jets as ``x[B, N, F]``, ``p4[B, N, 4]``, ``mask[B, N]`` (as above), then per
  other collection C of the topology in declaration order ``C_x[B, 1, F_C]`` (standardized
  with the metadata's ``C_feature_names / C_feature_means / C_feature_stds``), ``C_p4[B, 1,
  4]`` and ``C_mask: bool[B, 1]`` — for ``ttbar-ljets`` ``lepton_x[B, 1, 4]`` (log_pt, eta,
  log_e, charge), ``lepton_p4``, ``lepton_mask``, ``met_x[B, 1, 1]`` (log MET),
  ``met_p4 = (MET_x, MET_y, 0, MET)``, ``met_mask``; ``hh-4b`` has the jets only;
- outputs: per resonance R (declaration order) ``log_prob_R[B, N, …]``, one jet axis per jet
  daughter of R in its head order (metadata ``head_order``: exchangeable daughters first,
  the tensor symmetric in them), −inf where a slot is padded or repeated — ``log_prob_t_had
  [B, N, N, N]`` (q1, q2, b_had), ``log_prob_t_lep [B, N]`` (b_lep); ``log_prob_H1``,
  ``log_prob_H2 [B, N, N]`` — and ``detection[B, R]``, the probability that each resonance
  is reconstructable (sigmoid of the detection head). hepattn's exact joint decoding takes
  one tuple per resonance with no jet used twice, maximising the summed log P. The metadata
  also holds the topology (``topology``, ``topology_declaration``) and ``assignment_order``.

**Decoding inside** (``decode=True``, ``hepattn export-onnx … --decode``; any matcher): the
same inputs, and the assignment itself as outputs (:func:`decode_io`) —

- ``assignment`` int64[B, P]: per parton of the topology (``assignment_order``, P partons)
  the slot of its jet among the N jets fed in ``x`` / ``p4`` / ``mask`` (map it back through
  your own p_T sort to your file's order), −1 where none; a daughter from another collection
  (a lepton, the MET) is 0, its collection's one object, as ``hepattn match`` writes;
- ``probability`` float32[B, R]: per resonance (``resonance_order``) the chosen jet tuple's
  probability with unordered exchangeable daughters, NaN where the resonance got none.

The graph takes each head's ``decode_k`` most probable distinct tuples and scores every
combination of one per resonance with no jet used twice (:func:`hepattn.nn.decoding.
decode_fixed_k`: ``decode_k^R`` per event), partial events as ``hepattn match`` treats them.
``hepattn match`` decodes exactly (it widens the search when the top tuples could be beaten);
the two differ only when the best combination lies outside some head's top ``decode_k``
(measured by ``benchmarks/bench_onnx_decode.py``).
"""

from __future__ import annotations

import contextlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from hepattn import __version__
from hepattn._optional import check_installed
from hepattn.data.outputs import atomic_path
from hepattn.errors import HepattnError
from hepattn.tasks.presets import TASKS as PRESET_TASKS
from hepattn.tasks.presets import task_class
from hepattn.topology import JETS, TTBAR_ALLHAD, Topology, load_topology

__all__ = [
    "DEFAULT_DECODE_K",
    "DEFAULT_OPSET",
    "TASKS",
    "decode_io",
    "export_onnx",
    "onnx_metadata",
    "topology_declaration",
    "topology_io",
]

TASKS = tuple(PRESET_TASKS)
DEFAULT_OPSET = 17  # read by onnxruntime ≥ 1.14, as shipped in experiment software stacks
#: Candidates per head of the decoding inside an exported graph (``--decode-k``).
DEFAULT_DECODE_K = 64


class _TaggerExport(nn.Module):
    """``(x, p4, mask) -> softmax probabilities [B, 7]`` of a transformer or PFN tagger."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor) -> Tensor:
        return torch.softmax(self.net(x, p4, mask), dim=-1)


class _MassHLExport(nn.Module):
    """``hl -> softmax probabilities [B, 7]`` of a mass + high-level-features tagger."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, hl: Tensor) -> Tensor:
        return torch.softmax(self.net(None, None, None, hl), dim=-1)


class _MatcherExport(nn.Module):
    """``(x, p4, mask) -> (log P head 1, log P head 2)``, each ``[B, N, N, N]``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        from hepattn.kernels.triplet.reference import triplet_logprobs

        (x1, s1), (x2, s2) = self.net(x, p4, mask)
        return triplet_logprobs(x1, s1, mask), triplet_logprobs(x2, s2, mask)


class _TopologyMatcherExport(nn.Module):
    """``(x, p4, mask, [<c>_x, <c>_p4, <c>_mask per other collection]) -> (log P per
    resonance, detection probabilities [B, R])`` of a topology matcher."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.topology = net.topology
        self.others = [c.name for c in self.topology.collections if c.name != JETS]
        self.transverse = any(c.transverse for c in self.topology.collections)

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, *other: Tensor) -> tuple[Tensor, ...]:
        from hepattn.nn.heads import head_logprobs
        from hepattn.nn.inputs import combine_collections

        parts = {JETS: (x, p4, mask)}
        for i, name in enumerate(self.others):
            parts[name] = tuple(other[3 * i : 3 * i + 3])
        inp = combine_collections(self.topology, parts)
        types = inp.types if self.net.config.encoder.num_types else None
        transverse = inp.transverse if self.transverse else None
        heads, detection = self.net(inp.x, inp.p4, inp.mask, types, transverse)
        n = x.shape[1]  # the jets come first in the set; the other slots are never chosen
        logp = [
            head_logprobs(head, xh, sh, inp.head_mask, backend="torch")[
                (slice(None), *(slice(0, n),) * head.order)
            ]
            for head, (xh, sh) in zip(self.net.heads, heads, strict=True)
        ]
        return (*logp, torch.sigmoid(detection))


class _DecodeExport(nn.Module):
    """A matcher export (:class:`_MatcherExport` or :class:`_TopologyMatcherExport`) followed
    by the fixed-k joint decoding: ``inputs -> (assignment int64[B, P], probability
    float32[B, R])`` (module docstring)."""

    def __init__(self, inner: nn.Module, topology: Topology, k: int) -> None:
        super().__init__()
        self.inner = inner
        self.topology = topology
        self.k = k
        other = _other_flags(topology)
        mult = [r.log_multiplicity for r in topology.resonances]
        self.register_buffer("other", torch.tensor(other), persistent=False)
        self.register_buffer("mult", torch.tensor(mult, dtype=torch.float32), persistent=False)

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, *other: Tensor) -> tuple[Tensor, Tensor]:
        from hepattn.nn.decoding import decode_fixed_k

        logps = self.inner(x, p4, mask, *other)[: len(self.topology.resonances)]
        out, logp = decode_fixed_k(self.topology, logps, self.k)
        out = torch.where(self.other, torch.zeros_like(out), out)  # the collection's object
        return out, (logp + self.mult).exp()


def decode_io(topology: Topology) -> tuple[list[str], list[str]]:
    """(input names, output names) of a matcher exported with ``decode=True``."""
    return topology_io(topology)[0], ["assignment", "probability"]


def topology_io(topology: Topology) -> tuple[list[str], list[str]]:
    """(input names, output names) of an exported topology matcher (module docstring)."""
    inputs = ["x", "p4", "mask"]
    for c in topology.collections:
        if c.name != JETS:
            inputs += [f"{c.name}_x", f"{c.name}_p4", f"{c.name}_mask"]
    outputs = [f"log_prob_{r.name}" for r in topology.resonances] + ["detection"]
    return inputs, outputs


@contextlib.contextmanager
def _traceable():
    """Attention through the math backend of ``scaled_dot_product_attention`` while tracing:
    the fused CPU kernel's output layout breaks the exporter's decomposition of the later
    reshape. (Index tables are built from ``arange`` in the model itself, so the object
    count stays symbolic.)"""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def topology_declaration(topology: Topology) -> dict[str, Any]:
    """The topology as its YAML declaration (:mod:`hepattn.topology`), for the metadata."""
    names = [r.name for r in topology.resonances]
    return {
        "name": topology.name,
        "collections": {
            c.name: {
                **({"max_objects": c.max_objects} if c.max_objects is not None else {}),
                **({"transverse": True} if c.transverse else {}),
            }
            for c in topology.collections
        },
        "resonances": {
            r.name: {
                "daughters": {d: r.source(i) for i, d in enumerate(r.daughters)},
                **({"symmetric": list(r.symmetric)} if r.symmetric else {}),
            }
            for r in topology.resonances
        },
        "exchangeable": [[names[i] for i in g] for g in topology.groups],
    }


def _topology_metadata(loaded) -> dict[str, Any]:
    """The topology-specific part of :func:`onnx_metadata` (inputs, outputs, decoding)."""
    topo = loaded.topology
    data = loaded.run.data
    std = loaded.standardizers["objects"]
    inputs, outputs = topology_io(topo)
    meta: dict[str, Any] = {
        "topology": topo.name,
        "topology_declaration": topology_declaration(topo),
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
    meta["outputs"]["detection"] = {"dtype": "float32", "shape": ["B", len(topo.resonances)]}
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
        "when an event has fewer real jets than R has jet daughters. detection[b, r] = "
        "probability that resonance r (declaration order) is reconstructable. A full "
        "assignment takes one tuple per resonance with no jet used twice (hepattn decodes it "
        "exactly, maximising the summed log P); daughters from other collections are their "
        "collection's one object."
    )
    return meta


def _decode_metadata(topology: Topology, k: int) -> dict[str, Any]:
    """What ``decode=True`` changes in :func:`onnx_metadata`: the outputs and their meaning."""
    names = [r.name for r in topology.resonances]
    others = [p for r, p in zip(_other_flags(topology), topology.qualified, strict=True) if r]
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


def _other_flags(topology: Topology) -> list[bool]:
    """Per parton (parton order): drawn from a collection other than the jets."""
    return [r.source(i) != JETS for r in topology.resonances for i in range(len(r.daughters))]


def onnx_metadata(loaded, task: str, decode_k: int | None = None) -> dict[str, str]:
    """The ``metadata_props`` (string → string; lists and dicts as JSON) of an exported model
    (of a matcher exported with ``decode=True``: ``decode_k`` its candidates per head)."""
    meta = _metadata(loaded, task)
    if decode_k is not None:
        meta.pop("head_order", None)  # the axes of log_prob outputs the graph does not have
        meta.update(_decode_metadata(getattr(loaded, "topology", TTBAR_ALLHAD), decode_k))
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _metadata(loaded, task: str) -> dict[str, Any]:
    run = loaded.run
    if task == "topology-matcher":
        std = loaded.standardizers["objects"]
        meta = {
            "hepattn_version": __version__,
            "task": task,
            "kind": "topology-matcher",
            "source_model": str(loaded.path),
            "schema": run.data.schema,
            "collection": run.data.collection,
            "max_objects": run.data.max_objects,
            "feature_names": list(std.features),
            "feature_means": list(std.mean),
            "feature_stds": list(std.std),
            **_topology_metadata(loaded),
        }
        return meta
    kind = getattr(run, "kind", "transformer") if task == "tagger" else "matcher"
    meta: dict[str, Any] = {
        "hepattn_version": __version__,
        "task": task,
        "kind": kind,
        "source_model": str(loaded.path),
        "schema": run.data.schema,
        "collection": run.data.collection,
        "max_objects": run.data.max_objects,
    }
    if kind == "mass_hl":
        from hepattn.tasks.tagging import HL_MAX_TOWERS

        std = loaded.standardizers["jet"]
        meta["inputs"] = {"hl": {"dtype": "float32", "shape": ["B", len(std.features)]}}
        meta["preprocessing"] = (
            "hl = (jet mass, 16 high-level substructure features) computed from the jet's "
            f"towers (the {HL_MAX_TOWERS} leading in pT), in the order "
            "of feature_names, standardized as (value - feature_means) / feature_stds."
        )
    else:
        std = loaded.standardizers["objects"]
        obj = "towers of the jet" if task == "tagger" else "jets of the event"
        meta["inputs"] = {
            "x": {"dtype": "float32", "shape": ["B", "N", len(std.features)]},
            "p4": {"dtype": "float32", "shape": ["B", "N", 4], "components": "px,py,pz,E"},
            "mask": {"dtype": "bool", "shape": ["B", "N"]},
        }
        if kind == "pfn":  # the PFN does not read the 4-momenta: no p4 input
            del meta["inputs"]["p4"]
        meta["preprocessing"] = (
            f"Objects = the {obj}, sorted by decreasing pT and truncated to max_objects (any N "
            "is accepted), real objects first then padding. x[b, n] = per-object features in "
            "the order of feature_names, standardized as (value - feature_means) / "
            "feature_stds; p4[b, n] = (px, py, pz, E) in GeV, not standardized; mask[b, n] = "
            "True for a real object, False for padding (padded values are ignored)."
        )
        if kind == "pfn":
            meta["preprocessing"] += " A PFN has no p4 input."
    meta["feature_names"] = list(std.features)
    meta["feature_means"] = list(std.mean)
    meta["feature_stds"] = list(std.std)
    if task == "tagger":
        from hepattn.tasks.presets import CLASSES

        meta["outputs"] = {"probabilities": {"dtype": "float32", "shape": ["B", len(CLASSES)]}}
        meta["class_order"] = list(CLASSES)
    else:
        shape = ["B", "N", "N", "N"]
        meta["outputs"] = {
            "log_prob_top1": {"dtype": "float32", "shape": shape},
            "log_prob_top2": {"dtype": "float32", "shape": shape},
        }
        meta["assignment_order"] = TTBAR_ALLHAD.order_string
        meta["output_description"] = (
            "log_prob_topH[b, i, j, k] = log P under head H of the top whose light quarks are "
            "the objects in slots i, j and whose b is slot k (symmetric in i, j: the unordered "
            "pair has probability 2 P); -inf where a slot is padded or repeated; all -inf for "
            "events with < 3 real objects. A full assignment takes one triplet per head with "
            "no shared object (b = k, q1 = i, q2 = j of head 1; b', q1', q2' of head 2)."
        )
    return meta


def export_onnx(
    model: str | os.PathLike,
    task: str,
    out: str | os.PathLike,
    opset: int | None = None,
    *,
    dynamo: bool = False,
    topology: str | os.PathLike | None = None,
    decode: bool = False,
    decode_k: int = DEFAULT_DECODE_K,
) -> Path:
    """Export the saved ``model`` (a directory, or ``"default"``) of ``task`` to ``out``.

    Args:
        model: model directory, or ``"default"`` for the bundled model of ``task`` (of a
            topology matcher: ``hepattn/models/matcher-<topology>``).
        task: ``"tagger"``, ``"matcher"`` or ``"topology-matcher"``; must match the model.
            ``"matcher"`` with a ``topology`` other than ``ttbar-allhad`` is a topology
            matcher.
        topology: a matcher's topology (a built-in name or a YAML file): the model must be
            for it; None: all-hadronic for ``"matcher"``, the model's own for
            ``"topology-matcher"``.
        out: the ``.onnx`` file, written atomically (:func:`hepattn.data.outputs.atomic_path`).
        opset: ONNX opset (default :data:`DEFAULT_OPSET` with the TorchScript exporter, the
            torch default with ``dynamo``).
        dynamo: use torch's ``torch.export``-based exporter (needs onnxscript; about 30×
            slower to export) instead of the TorchScript exporter. Both give the same graph
            semantics and dynamic ``batch`` / ``objects`` axes.
        decode: a matcher's graph decodes the assignment itself: outputs ``assignment``
            int64[B, P] and ``probability`` float32[B, R] (module docstring) instead of the
            heads' log P.
        decode_k: with ``decode``, the candidates per head (``decode_k^R`` combinations
            scored per event: mind the memory for three resonances).

    Raises:
        HepattnError: onnx (or, with ``dynamo``, onnxscript) is not installed, the model is
            not a ``task`` model, or the export fails.
    """
    if task not in TASKS:
        raise HepattnError(f"unknown task {task!r}; choose one of {TASKS}")
    if topology is not None and task == "tagger":
        raise HepattnError("a topology applies to matchers, not to the tagger")
    if task == "matcher" and topology is not None and str(topology) != TTBAR_ALLHAD.name:
        task = "topology-matcher"
    if task == "matcher" and topology is not None:
        load_topology(topology)  # a bad name fails here, before the model is read
    if decode and task == "tagger":
        raise HepattnError("--decode applies to matchers (the assignment), not to the tagger")
    if decode and (isinstance(decode_k, bool) or not isinstance(decode_k, int) or decode_k < 1):
        raise HepattnError(f"decode_k must be a positive integer, not {decode_k!r}")
    check_installed("onnx", *(("onnxscript",) if dynamo else ()), purpose="ONNX export")
    import onnx

    if task == "topology-matcher":
        loaded = task_class(task).load(model, topology=topology)
        met = [c.name for c in loaded.topology.collections if c.transverse]
        if dynamo and met:
            raise HepattnError(
                f"{loaded.path}: --dynamo cannot export topology {loaded.topology.name!r} yet "
                f"(the transverse collection {met[0]!r} takes a data-dependent branch in the "
                "pair features); export it without --dynamo"
            )
    else:
        loaded = task_class(task).load(model)
    net = loaded.net.eval()
    kind = getattr(loaded.run, "kind", None)
    if task == "topology-matcher":
        wrapper: nn.Module = _TopologyMatcherExport(net)
        g = torch.Generator().manual_seed(0)
        names, outputs = topology_io(loaded.topology)

        def p4s(n: int) -> Tensor:
            p = torch.randn(2, n, 4, generator=g) * 20.0
            p[..., 3] = p[..., :3].norm(dim=-1) + 1.0
            return p

        n_feat = len(loaded.run.data.features)
        args: tuple[Tensor, ...] = (
            torch.randn(2, 5, n_feat, generator=g),
            p4s(5),
            torch.tensor([[True] * 5, [True] * 3 + [False] * 2]),
        )
        axes = {name: {0: "batch", 1: "objects"} for name in names[:3]}
        for c in loaded.others():
            width = len(loaded.standardizers[c.name].features)
            args += (torch.randn(2, 1, width, generator=g), p4s(1), torch.ones(2, 1, dtype=bool))
            axes.update({f"{c.name}_{k}": {0: "batch"} for k in ("x", "p4", "mask")})
        out_axes = {
            f"log_prob_{r.name}": {0: "batch", **dict.fromkeys(range(1, r.order + 1), "objects")}
            for r in loaded.topology.resonances
        }
        out_axes["detection"] = {0: "batch"}
    elif task == "tagger" and kind == "mass_hl":
        n_hl = len(loaded.standardizers["jet"].features)
        wrapper = _MassHLExport(net)
        args = (torch.zeros(2, n_hl),)
        names = ["hl"]
        axes = {"hl": {0: "batch"}}
    else:
        wrapper = _TaggerExport(net) if task == "tagger" else _MatcherExport(net)
        n_feat = len(loaded.run.data.features)
        g = torch.Generator().manual_seed(0)
        p4 = torch.randn(2, 5, 4, generator=g) * 20.0
        p4[..., 3] = p4[..., :3].norm(dim=-1) + 1.0
        args = (
            torch.randn(2, 5, n_feat, generator=g),
            p4,
            torch.tensor([[True] * 5, [True] * 3 + [False] * 2]),
        )
        names = ["x", "p4", "mask"]
        axes = {name: {0: "batch", 1: "objects"} for name in names}
    if task == "tagger":
        outputs = ["probabilities"]
        out_axes = {"probabilities": {0: "batch"}}
    elif task == "matcher":
        outputs = ["log_prob_top1", "log_prob_top2"]
        cube = {0: "batch", 1: "objects", 2: "objects", 3: "objects"}
        out_axes = {name: cube for name in outputs}
    if decode:
        topo = loaded.topology if task == "topology-matcher" else TTBAR_ALLHAD
        wrapper = _DecodeExport(wrapper, topo, decode_k)
        outputs = decode_io(topo)[1]
        out_axes = {name: {0: "batch"} for name in outputs}

    out = Path(out)
    try:
        with atomic_path(out) as tmp, _traceable(), torch.no_grad():
            if dynamo:
                dims = {"batch": torch.export.Dim("batch"), "objects": torch.export.Dim("objects")}
                shapes: tuple = tuple({i: dims[v] for i, v in axes[k].items()} for k in names)
                if task == "topology-matcher" and len(shapes) > 3:  # other collections: *args
                    shapes = (*shapes[:3], shapes[3:])
                program = torch.onnx.export(
                    wrapper.eval(),
                    args,
                    dynamo=True,
                    input_names=names,
                    output_names=outputs,
                    dynamic_shapes=shapes,
                    opset_version=opset,
                    verbose=False,
                )
                proto = program.model_proto
            else:
                torch.onnx.export(
                    wrapper.eval(),
                    args,
                    str(tmp),
                    dynamo=False,
                    input_names=names,
                    output_names=outputs,
                    dynamic_axes={**axes, **out_axes},
                    opset_version=opset or DEFAULT_OPSET,
                    do_constant_folding=True,
                )
                proto = onnx.load(str(tmp))
            meta = onnx_metadata(loaded, task, decode_k if decode else None)
            onnx.helper.set_model_props(proto, meta)
            onnx.checker.check_model(proto)
            onnx.save(proto, str(tmp))
    except HepattnError:
        raise
    except Exception as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HepattnError(f"ONNX export of {loaded.path} failed: {msg}") from err
    return out
