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
  standardized (``hl[B, 136]``, jet mass + 135 N-subjettiness values, for ``mass_hl135``).

Outputs: a tagger gives ``probabilities[B, 7]`` (softmax over the classes 1, 2, 3, 4b, 4q, 6,
8). A matcher, any topology (``task="matcher"``; the former name ``"topology-matcher"`` is
accepted; :func:`topology_io` gives the names), all-hadronic tt̄ by default:

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
  ``log_prob_H2 [B, N, N]``; all-hadronic tt̄: ``log_prob_t1``, ``log_prob_t2 [B, N, N, N]``
  (q1, q2, b) — then ``detection[B, R]``, the probability that each resonance is
  reconstructable (sigmoid of the detection head; models saved before it existed have none),
  then ``log_prob_<alias>`` for the aliases a topology declares: the all-hadronic graph
  keeps the names of earlier versions, ``log_prob_top1`` and ``log_prob_top2`` (the same
  tensors as ``log_prob_t1``, ``log_prob_t2``). hepattn's exact joint decoding takes
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

import torch

from hepattn import __version__
from hepattn._optional import check_installed
from hepattn.data.outputs import atomic_path
from hepattn.errors import HepattnError
from hepattn.export.matcher import MatcherExport, decode_io, topology_io
from hepattn.export.tagger import TaggerExport
from hepattn.tasks.presets import TASK_ALIASES, TASKS, task_class
from hepattn.topology import Topology, load_topology

__all__ = [
    "DEFAULT_DECODE_K",
    "DEFAULT_OPSET",
    "EXPORTS",
    "TASKS",
    "decode_io",
    "export_onnx",
    "onnx_metadata",
    "topology_declaration",
    "topology_io",
]

DEFAULT_OPSET = 17  # read by onnxruntime ≥ 1.14, as shipped in experiment software stacks
#: Candidates per head of the decoding inside an exported graph (``--decode-k``).
DEFAULT_DECODE_K = 64
#: The export hooks of each task: ``module()``, ``inputs()``, ``outputs()``, ``metadata()``,
#: ``check_dynamo()``.
EXPORTS = {"tagger": TaggerExport, "matcher": MatcherExport}


def topology_declaration(topology: Topology) -> dict:
    """The topology as its YAML declaration (:meth:`hepattn.topology.Topology.declaration`)."""
    return topology.declaration()


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


def onnx_metadata(loaded, task: str, decode_k: int | None = None) -> dict[str, str]:
    """The ``metadata_props`` (string → string; lists and dicts as JSON) of an exported model
    (of a matcher exported with ``decode=True``: ``decode_k`` its candidates per head); with
    ``domain`` the model's training domain (:meth:`hepattn.tasks.domain.Domain.to_dict`:
    per input feature its range before standardization and, under ``standardized``, in the
    graph's standardized ``x`` units, for the caller's own checks), where it has one."""
    task = TASK_ALIASES.get(task, task)
    hooks = EXPORTS[task](loaded, decode_k is not None, decode_k or DEFAULT_DECODE_K)
    meta = {"hepattn_version": __version__, "source_model": str(loaded.path), **hooks.metadata()}
    if getattr(loaded, "domain", None) is not None:
        meta["domain"] = loaded.domain.to_dict()
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def _load(task: str, model, topology):
    cls = task_class(task)
    return cls.load(model) if topology is None else cls.load(model, topology=topology)


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
            matcher: that of ``topology``, all-hadronic tt̄ when None).
        task: ``"tagger"`` or ``"matcher"`` (the former ``"topology-matcher"`` is the
            matcher); must match the model.
        topology: a matcher's topology (a built-in name or a YAML file): the model must be
            for it; None: the model's own.
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
    if TASK_ALIASES.get(task, task) not in TASKS:
        raise HepattnError(f"unknown task {task!r}; choose one of {(*TASKS, *TASK_ALIASES)}")
    task = TASK_ALIASES.get(task, task)
    if topology is not None and task == "tagger":
        raise HepattnError("a topology applies to matchers, not to the tagger")
    if topology is not None:
        load_topology(topology)  # a bad name fails here, before the model is read
    if decode and task == "tagger":
        raise HepattnError("--decode applies to matchers (the assignment), not to the tagger")
    if decode and (isinstance(decode_k, bool) or not isinstance(decode_k, int) or decode_k < 1):
        raise HepattnError(f"decode_k must be a positive integer, not {decode_k!r}")
    check_installed("onnx", *(("onnxscript",) if dynamo else ()), purpose="ONNX export")
    import onnx

    loaded = _load(task, model, topology)
    hooks = EXPORTS[task](loaded, decode, decode_k)
    if dynamo:
        hooks.check_dynamo()
    wrapper = hooks.module().eval()
    args, names, axes = hooks.inputs()
    outputs, out_axes = hooks.outputs()

    out = Path(out)
    try:
        with atomic_path(out) as tmp, _traceable(), torch.no_grad():
            if dynamo:
                dims = {"batch": torch.export.Dim("batch"), "objects": torch.export.Dim("objects")}
                shapes: tuple = tuple({i: dims[v] for i, v in axes[k].items()} for k in names)
                if len(shapes) > 3:  # other collections: *args
                    shapes = (*shapes[:3], shapes[3:])
                program = torch.onnx.export(
                    wrapper,
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
                    wrapper,
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
