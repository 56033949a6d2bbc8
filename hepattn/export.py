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
from hepattn.topology import TTBAR_ALLHAD

__all__ = ["DEFAULT_OPSET", "TASKS", "export_onnx", "onnx_metadata"]

TASKS = tuple(PRESET_TASKS)
DEFAULT_OPSET = 17  # read by onnxruntime ≥ 1.14, as shipped in experiment software stacks


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


def onnx_metadata(loaded, task: str) -> dict[str, str]:
    """The ``metadata_props`` (string → string; lists and dicts as JSON) of an exported model."""
    run = loaded.run
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
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}


def export_onnx(
    model: str | os.PathLike,
    task: str,
    out: str | os.PathLike,
    opset: int | None = None,
    *,
    dynamo: bool = False,
) -> Path:
    """Export the saved ``model`` (a directory, or ``"default"``) of ``task`` to ``out``.

    Args:
        model: model directory, or ``"default"`` for the bundled model of ``task``.
        task: ``"tagger"`` or ``"matcher"``; must match the model.
        out: the ``.onnx`` file, written atomically (:func:`hepattn.data.outputs.atomic_path`).
        opset: ONNX opset (default :data:`DEFAULT_OPSET` with the TorchScript exporter, the
            torch default with ``dynamo``).
        dynamo: use torch's ``torch.export``-based exporter (needs onnxscript; about 30×
            slower to export) instead of the TorchScript exporter. Both give the same graph
            semantics and dynamic ``batch`` / ``objects`` axes.

    Raises:
        HepattnError: onnx (or, with ``dynamo``, onnxscript) is not installed, the model is
            not a ``task`` model, or the export fails.
    """
    if task not in TASKS:
        raise HepattnError(f"unknown task {task!r}; choose one of {TASKS}")
    check_installed("onnx", *(("onnxscript",) if dynamo else ()), purpose="ONNX export")
    import onnx

    loaded = task_class(task).load(model)
    net = loaded.net.eval()
    kind = getattr(loaded.run, "kind", None)
    if task == "tagger" and kind == "mass_hl":
        n_hl = len(loaded.standardizers["jet"].features)
        wrapper: nn.Module = _MassHLExport(net)
        args: tuple[Tensor, ...] = (torch.zeros(2, n_hl),)
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
    else:
        outputs = ["log_prob_top1", "log_prob_top2"]
        cube = {0: "batch", 1: "objects", 2: "objects", 3: "objects"}
        out_axes = {name: cube for name in outputs}

    out = Path(out)
    try:
        with atomic_path(out) as tmp, _traceable(), torch.no_grad():
            if dynamo:
                dims = {"batch": torch.export.Dim("batch"), "objects": torch.export.Dim("objects")}
                program = torch.onnx.export(
                    wrapper.eval(),
                    args,
                    dynamo=True,
                    input_names=names,
                    output_names=outputs,
                    dynamic_shapes={k: {i: dims[v] for i, v in a.items()} for k, a in axes.items()},
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
            onnx.helper.set_model_props(proto, onnx_metadata(loaded, task))
            onnx.checker.check_model(proto)
            onnx.save(proto, str(tmp))
    except HepattnError:
        raise
    except Exception as err:
        msg = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HepattnError(f"ONNX export of {loaded.path} failed: {msg}") from err
    return out
