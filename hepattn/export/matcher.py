"""ONNX export hooks of the matcher, any topology (:mod:`hepattn.export`).

Inputs: the jets as ``x[B, N, F]``, ``p4[B, N, 4]``, ``mask[B, N]``, then per other
collection C of the topology in declaration order ``C_x[B, 1, F_C]``, ``C_p4[B, 1, 4]``,
``C_mask: bool[B, 1]`` (:func:`topology_io`). Outputs: per resonance R ``log_prob_R[B, N,
…]`` (one jet axis per jet daughter, head order), then ``detection[B, R]`` (models with the
detection head), then ``log_prob_<alias>`` for each alias a resonance declares (the
all-hadronic graph's ``log_prob_top1``, ``log_prob_top2`` of earlier versions); with
decoding inside, ``assignment`` and ``probability`` (:func:`decode_io`). A model with a
stored calibration (:mod:`hepattn.tasks.calibration`) has its maps in the graph: ``detection``
and ``probability`` are the calibrated probabilities ``hepattn match`` writes (the ``log_prob``
distributions are the network's own); the metadata's ``calibration`` holds the maps. A
model with regression heads has, last, per regression ``<key>[B]`` and ``<key>_sigma[B]``
(``EVENT_nu_pz``, ``t_had_pt``: the value and its σ in the target's units, as ``hepattn match``
writes them), then per class of its classification heads ``EVENT_<class>_prob[B]``, in both
forms.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from hepattn.errors import HepattnError
from hepattn.export.matcher_metadata import (
    aliases,
    decode_io,
    decode_metadata,
    matcher_metadata,
    other_collection_flags,
    regression_metadata,
    topology_io,
)
from hepattn.export.tagger import example_objects
from hepattn.topology import JETS, Topology

__all__ = ["MatcherExport", "decode_io", "topology_io"]


class _LogProbs(nn.Module):
    """``(x, p4, mask, [<c>_x, <c>_p4, <c>_mask per other collection]) -> (log P per
    resonance, [detection probabilities (B, R)], log P per alias, [value (B,), σ (B,) per
    regression])``; ``regression``: the model's ``"regression"`` standardization record."""

    def __init__(
        self,
        net: nn.Module,
        with_aliases: bool = True,
        detection: nn.Module | None = None,
        regression=None,
    ) -> None:
        super().__init__()
        if net.regressions:
            mean, std = torch.tensor(regression.mean), torch.tensor(regression.std)
            self.register_buffer("reg_mean", mean.float(), persistent=False)
            self.register_buffer("reg_std", std.float(), persistent=False)
        self.net = net
        self.calibrate_detection = detection  # the model's calibration map, or None
        self.topology = net.topology
        self.others = [c.name for c in self.topology.collections if c.name != JETS]
        self.transverse = any(c.transverse for c in self.topology.collections)
        self.aliases = aliases(self.topology) if with_aliases else []

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, *other: Tensor) -> tuple[Tensor, ...]:
        from hepattn.nn.heads import head_logprobs
        from hepattn.nn.inputs import combine_collections

        parts = {JETS: (x, p4, mask)}
        for i, name in enumerate(self.others):
            parts[name] = tuple(other[3 * i : 3 * i + 3])
        inp = combine_collections(self.topology, parts)
        types = inp.types if self.net.config.encoder.num_types else None
        transverse = inp.transverse if self.transverse else None
        out = self.net(inp.x, inp.p4, inp.mask, types, transverse)
        heads, detection = out.heads, out.detection
        n = x.shape[1]  # the jets come first in the set; the other slots are never chosen
        logp = [
            head_logprobs(head, xh, sh, inp.head_mask, backend="torch")[
                (slice(None), *(slice(0, n),) * head.order)
            ]
            for head, (xh, sh) in zip(self.net.heads, heads, strict=True)
        ]
        det = () if detection is None else (torch.sigmoid(detection),)
        if det and self.calibrate_detection is not None:
            det = (self.calibrate_detection(det[0], mask.sum(-1)),)
        reg: tuple[Tensor, ...] = ()
        if out.regression is not None:
            value = out.regression[..., 0] * self.reg_std + self.reg_mean  # (B, K)
            sigma = out.regression[..., 1].exp() * self.reg_std
            reg = tuple(t for k in range(value.shape[1]) for t in (value[:, k], sigma[:, k]))
        if out.classification is not None:
            probs = self.net.class_probabilities(out.classification)
            reg += tuple(p[:, k] for p in probs for k in range(p.shape[1]))
        return (*logp, *det, *(logp[i].clone() for i, _ in self.aliases), *reg)


class _Calibration(nn.Module):
    """The model's calibration maps (:mod:`hepattn.tasks.calibration`) as elementwise graph
    operations: ``(p (B, R), n_jets (B,)) -> f_{r,k}(p)`` with k the event's jet-multiplicity
    row, ``f(p) = y_0 + Σ_i s_i · min(max(p − x_i, 0), x_{i+1} − x_i)`` (``s_i`` the slope
    between knots i and i + 1) — :func:`numpy.interp` of the knots (constant beyond them; NaN
    stays NaN), exportable without a search."""

    def __init__(self, knots: list[list[tuple[list[float], list[float]]]], thresholds) -> None:
        super().__init__()
        k = max(len(x) for rows in knots for x, _ in rows)

        def pad(v: list[float]) -> list[float]:
            return list(v) + [v[-1]] * (k - len(v))

        xs = torch.tensor([[pad(x) for x, _ in rows] for rows in knots], dtype=torch.float64)
        ys = torch.tensor([[pad(y) for _, y in rows] for rows in knots], dtype=torch.float64)
        dx, dy = xs[..., 1:] - xs[..., :-1], ys[..., 1:] - ys[..., :-1]  # (R, rows, K − 1)
        slope = torch.where(dx > 0, dy / dx.clamp_min(1e-300), torch.zeros_like(dx))
        self.register_buffer("x0", xs[..., :-1].float(), persistent=False)
        self.register_buffer("width", dx.float(), persistent=False)
        self.register_buffer("slope", slope.float(), persistent=False)
        self.register_buffer("y0", ys[..., 0].float(), persistent=False)
        self.register_buffer("thresholds", torch.tensor(thresholds), persistent=False)

    @classmethod
    def of(cls, record: dict, topology: Topology, kind: str) -> _Calibration:
        """The maps of ``kind`` (``"assignment"`` or ``"detection"``), one per resonance in
        topology order and jet-multiplicity row (identity where the record has none)."""
        thresholds = list(record["jet_thresholds"])
        identity = [([0.0, 1.0], [0.0, 1.0])] * (len(thresholds) + 1)
        knots = []
        for res in topology.resonances:
            m = record["resonances"].get(res.name, {}).get(kind)
            knots.append([(r["x"], r["y"]) for r in m["rows"]] if m else identity)
        return cls(knots, thresholds)

    def forward(self, p: Tensor, n_jets: Tensor) -> Tensor:
        rows = (n_jets.unsqueeze(-1) >= self.thresholds).sum(-1)  # (B,)
        onehot = rows.unsqueeze(-1) == torch.arange(self.y0.shape[1])  # (B, rows)
        d = p[..., None, None] - self.x0  # (B, R, rows, K − 1)
        d = torch.minimum(d.clamp(min=0.0), self.width)
        f = self.y0 + (self.slope * d).sum(-1)  # (B, R, rows)
        return (f * onehot.unsqueeze(1)).sum(-1)


class _Decode(nn.Module):
    """:class:`_LogProbs` followed by the fixed-k joint decoding: ``inputs -> (assignment
    int64[B, P], probability float32[B, R])``."""

    def __init__(
        self, inner: _LogProbs, topology: Topology, k: int, calibrate: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.inner = inner
        self.topology = topology
        self.k = k
        self.calibrate = calibrate  # the assignment probabilities' map, or None
        mult = [r.log_multiplicity for r in topology.resonances]
        self.register_buffer(
            "other", torch.tensor(other_collection_flags(topology)), persistent=False
        )
        self.register_buffer("mult", torch.tensor(mult, dtype=torch.float32), persistent=False)

    def forward(self, x: Tensor, p4: Tensor, mask: Tensor, *other: Tensor) -> tuple[Tensor, ...]:
        from hepattn.nn.decoding import decode_fixed_k

        inner = self.inner(x, p4, mask, *other)
        logps = inner[: len(self.topology.resonances)]
        net = self.inner.net
        n_reg = 2 * len(net.regressions) + sum(len(c.classes) for c in net.classifications)
        reg = inner[len(inner) - n_reg :] if n_reg else ()
        out, logp = decode_fixed_k(self.topology, logps, self.k)
        out = torch.where(self.other, torch.zeros_like(out), out)  # the collection's object
        prob = (logp + self.mult).exp()
        prob = prob if self.calibrate is None else self.calibrate(prob, mask.sum(-1))
        return (out, prob, *reg)


class MatcherExport:
    """The export hooks of a loaded matcher (:class:`hepattn.tasks.matching.Matcher`)."""

    def __init__(self, loaded, decode: bool, decode_k: int) -> None:
        self.loaded = loaded
        self.topology = loaded.topology
        self.detection = loaded.has_detection
        self.regressions = [r.key for r in loaded.regressions]
        self.classifications = loaded.classifications
        self.decode = decode
        self.decode_k = decode_k

    def check_dynamo(self) -> None:
        met = [c.name for c in self.topology.collections if c.transverse]
        if met:
            raise HepattnError(
                f"{self.loaded.path}: --dynamo cannot export topology {self.topology.name!r} "
                f"yet (the transverse collection {met[0]!r} takes a data-dependent branch in "
                "the pair features); export it without --dynamo"
            )

    def module(self) -> nn.Module:
        record = getattr(self.loaded, "calibration", None)
        det = None
        if record is not None and self.detection:
            det = _Calibration.of(record, self.topology, "detection")
        inner = _LogProbs(
            self.loaded.net.eval(),
            with_aliases=not self.decode,
            detection=det,
            regression=self.loaded.standardizers.get("regression"),
        )
        if not self.decode:
            return inner
        assign = None if record is None else _Calibration.of(record, self.topology, "assignment")
        return _Decode(inner, self.topology, self.decode_k, assign)

    def inputs(self) -> tuple[tuple[Tensor, ...], list[str], dict[str, dict[int, str]]]:
        """(example arguments, input names, their dynamic axes)."""
        names = topology_io(self.topology, self.detection)[0]
        args = example_objects(len(self.loaded.run.data.features))
        axes = {name: {0: "batch", 1: "objects"} for name in names[:3]}
        g = torch.Generator().manual_seed(1)
        for c in self.loaded.others():
            width = len(self.loaded.standardizers[c.name].features)
            p4 = torch.randn(2, 1, 4, generator=g) * 20.0
            p4[..., 3] = p4[..., :3].norm(dim=-1) + 1.0
            args += (torch.randn(2, 1, width, generator=g), p4, torch.ones(2, 1, dtype=bool))
            axes.update({f"{c.name}_{k}": {0: "batch"} for k in ("x", "p4", "mask")})
        return args, names, axes

    def outputs(self) -> tuple[list[str], dict[str, dict[int, str]]]:
        if self.decode:
            names = decode_io(self.topology, self.regressions, self.classifications)[1]
            return names, {name: {0: "batch"} for name in names}
        names = topology_io(self.topology, self.detection, self.regressions, self.classifications)[
            1
        ]
        res = {f"log_prob_{r.name}": r for r in self.topology.resonances}
        res.update(
            {f"log_prob_{a}": self.topology.resonances[i] for i, a in aliases(self.topology)}
        )
        axes = {
            name: {0: "batch", **dict.fromkeys(range(1, res[name].order + 1), "objects")}
            if name in res
            else {0: "batch"}
            for name in names
        }
        return names, axes

    def metadata(self) -> dict[str, Any]:
        meta = matcher_metadata(self.loaded, self.detection)
        record = getattr(self.loaded, "calibration", None)
        if record is not None:  # applied in the graph to detection (and probability)
            meta["calibration"] = record
        if self.decode:
            meta.pop("head_order", None)  # the axes of log_prob outputs the graph does not have
            meta.update(decode_metadata(self.topology, self.decode_k))
            reg = regression_metadata(self.loaded.regressions, self.loaded.classifications)
            meta["outputs"].update(reg.pop("outputs", {}))
            meta.update(reg)
        return meta
