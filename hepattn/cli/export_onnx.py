"""``hepattn export-onnx MODEL --task tagger|matcher [--topology NAME] -o FILE.onnx``: ONNX
for C++ inference."""

from __future__ import annotations

import argparse

from hepattn.cli._options import (
    add_output,
    add_topology,
    check_outputs,
    checked_topology,
    model_files,
)
from hepattn.errors import HepattnError
from hepattn.tasks.presets import TASK_ALIASES, TASKS


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export-onnx",
        help="export a trained tagger or matcher to ONNX",
        description="Export the torch reference path of a saved model to ONNX with dynamic "
        "batch and object-count axes. Inputs: x float32[B, N, F] (standardized features), "
        "p4 float32[B, N, 4] (px, py, pz, E in GeV), mask bool[B, N] (True = real object); "
        "a mass_hl tagger takes hl float32[B, 17] instead. Outputs: probabilities[B, 7] "
        "(tagger); a matcher, any topology, gives log_prob_R [B, N, ...] (one N per jet "
        "daughter of resonance R, in its head order) per resonance R, detection[B, R] "
        "(probability that each resonance is reconstructable; models with the detection "
        "head) and the same log P under the names a topology keeps from earlier versions "
        "(all-hadronic ttbar: log_prob_top1, log_prob_top2 [B, N, N, N]); a matcher of a "
        "topology with other collections (ttbar-ljets: lepton, met) also takes, per non-jet "
        "collection C, C_x float32[B, 1, F_C], C_p4 float32[B, 1, 4], C_mask bool[B, 1]. "
        "With --decode a matcher's graph decodes the "
        "assignment itself: outputs assignment int64[B, P] (per parton of the topology, the "
        "slot of its jet among the jets fed, -1 none) and probability float32[B, R] (per "
        "resonance, the chosen jet tuple's probability, NaN none), from each head's "
        "--decode-k best tuples. Feature names, standardization, the topology, the "
        "preprocessing and the outputs' meaning are stored in the ONNX metadata.",
    )
    p.add_argument("model", metavar="MODEL", help="model directory, or 'default'")
    p.add_argument(
        "--task",
        choices=(*TASKS, *TASK_ALIASES),
        required=True,
        help="model task (topology-matcher: the former name of the matcher of a declared "
        "topology, the same as matcher)",
    )
    add_topology(p, model="a model directory")
    add_output(p, "output ONNX file", "--out", required=True, metavar="FILE.onnx")
    p.add_argument("--opset", type=int, help="ONNX opset (default: 17)")
    p.add_argument(
        "--dynamo",
        action="store_true",
        help="use torch's torch.export-based exporter (needs onnxscript; slower)",
    )
    p.add_argument(
        "--decode",
        action="store_true",
        help="matchers: the graph returns the assignment (assignment int64[B, P], probability "
        "float32[B, R]) instead of the heads' log-probabilities",
    )
    p.add_argument(
        "--decode-k",
        type=int,
        metavar="K",
        help="with --decode: candidate jet tuples per resonance (default 64, "
        "hepattn.export.DEFAULT_DECODE_K; K^R combinations are scored per event for R "
        "resonances)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from hepattn.export import DEFAULT_DECODE_K, export_onnx

    if args.task == "tagger" and args.topology is not None:
        raise HepattnError("--topology applies to matchers, not to the tagger")
    if args.task == "tagger" and args.decode:
        raise HepattnError("--decode applies to matchers (the assignment), not to the tagger")
    if args.decode_k is not None and not args.decode:
        raise HepattnError("--decode-k applies with --decode")
    if args.decode_k is not None and args.decode_k < 1:
        raise HepattnError(f"--decode-k must be a positive integer, not {args.decode_k}")
    task = TASK_ALIASES.get(args.task, args.task)
    topology = checked_topology(args)
    files = model_files(args.model, task, topology)
    check_outputs((), (args.output, "output", False), files=files)
    out = export_onnx(
        args.model,
        task,
        args.output,
        opset=args.opset,
        dynamo=args.dynamo,
        topology=topology,
        decode=args.decode,
        decode_k=DEFAULT_DECODE_K if args.decode_k is None else args.decode_k,
    )
    import onnx  # present: export_onnx checked

    proto = onnx.load(str(out), load_external_data=False)
    meta = {p.key: p.value for p in proto.metadata_props}
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)

    def shape(v) -> str:
        dims = v.type.tensor_type.shape.dim
        return "[" + ", ".join(d.dim_param or str(d.dim_value) for d in dims) + "]"

    print(f"exported {meta['task']} ({meta['kind']}) from {meta['source_model']}")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB, opset {opset})")
    print("inputs:  " + ", ".join(f"{v.name}{shape(v)}" for v in proto.graph.input))
    print("outputs: " + ", ".join(f"{v.name}{shape(v)}" for v in proto.graph.output))
    print("features: " + ", ".join(json.loads(meta["feature_names"])))
    if "class_order" in meta:
        print("classes (probabilities order): " + ", ".join(json.loads(meta["class_order"])))
    else:
        print(f"assignment order: {meta['assignment_order']}")
    if "decode_k" in meta:
        print(
            f"decoding in the graph: the best of each resonance's {meta['decode_k']} most "
            "probable jet tuples with no jet used twice; probability order: "
            + ", ".join(json.loads(meta["resonance_order"]))
        )
    elif "topology" in meta:
        heads = json.loads(meta["head_order"])
        print(
            f"topology {meta['topology']}: log_prob_R indices per resonance R: "
            + "; ".join(f"{r} ({', '.join(d)})" for r, d in heads.items())
        )
    return 0
