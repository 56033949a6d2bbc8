"""The Triton kernels compiled ahead of time for real GPU targets, on a machine without a GPU.

Triton compiles a kernel for a named target from its source alone
(``triton.compile(ASTSource(fn, signature, constexprs), target=GPUTarget("cuda", 90, 32))``):
PTX, then a cubin from the ``ptxas`` the wheel ships. :func:`compile_kernel` does that for one
kernel and specialisation and reads what the hardware will be asked for — registers per
thread, spilled bytes, shared memory per block (static and the dynamic amount Triton launches
with), warps (``ptxas -v`` of the Triton wheel on the PTX it made) — and
:func:`occupancy` what follows for the target: blocks per SM limited by registers, shared
memory, threads and the block limit.

:func:`specialisations` lists every specialisation the launchers of :mod:`.triton` can choose at
run time, with the signatures they pass (pointer dtypes by input dtype, the int8 mask, int32
sizes and strides): ``BLOCK`` 16 or 32 (N ≤ 16 or more jets), ``DP`` = D rounded up to a
power of two ≥ 16 (16 … 128), the input dtype (fp32 with ``ieee`` or ``tf32`` products, bf16,
fp16), ``num_warps`` 8 above D = 64 else 4, and for the top-K kernel (8 warps,
:data:`~.triton.TOPK_WARPS`) each ``KP`` (a power of four up to :data:`~.triton.TOPK_MAX`,
``BLOCK² ≥ KP``).

These are compiled, not run, figures: they show that the kernels compile for sm_80 (A100) and
sm_90 (H100) without spills and within the targets' shared memory, not how fast they run.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import tempfile
from pathlib import Path

__all__ = [
    "TARGETS",
    "Compiled",
    "bundled_specialisations",
    "compile_in_subprocess",
    "compile_kernel",
    "occupancy",
    "specialisations",
]

#: Per target: compute capability, registers and shared memory per SM, the most shared memory
#: one block may use (opt-in), threads and blocks per SM (CUDA programming guide, table of
#: technical specifications per compute capability).
TARGETS = {
    "sm_80": {"cc": 80, "regs": 65536, "smem": 167936, "smem_block": 166912, "threads": 2048,
              "blocks": 32, "name": "A100"},
    "sm_90": {"cc": 90, "regs": 65536, "smem": 233472, "smem_block": 232448, "threads": 2048,
              "blocks": 32, "name": "H100"},
}  # fmt: skip
KERNELS = ("_lse_fwd_kernel", "_lse_bwd_kernel", "_topk_kernel")
DTYPES = {"fp32": "*fp32", "bf16": "*bf16", "fp16": "*fp16"}
#: Pointer arguments by kernel: the input dtype's (x), float32 (outputs, logZ, grads), mask.
POINTERS = {
    "X": "in", "A": "in", "MASK": "*i8", "M_OUT": "*fp32", "L_OUT": "*fp32", "LOGZ": "*fp32",
    "G": "*fp32", "DX": "*fp32", "DA": "*fp32", "KEYS": "*i64",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class Compiled:
    """One kernel compiled for one target and specialisation, and what it asks of the GPU."""

    name: str
    target: str
    specialisation: dict
    registers: int
    spills: int
    shared_bytes: int
    num_warps: int

    @property
    def occupancy(self) -> float:
        return occupancy(self.target, self.registers, self.shared_bytes, self.num_warps)

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "occupancy": self.occupancy}


def bundled_specialisations() -> list[tuple[str, dict]]:
    """The specialisations the bundled matchers use (D = 16, N ≤ 16 jets, top-16 decoding),
    under fp32 (tf32 products) and bf16 autocast."""
    from hepattn.kernels.triplet.limits import TOPK_WARPS

    out = []
    for dtype in ("fp32", "bf16"):
        base = {"DP": 16, "dtype": dtype, "PRECISION": "tf32", "num_warps": 4, "BLOCK": 16}
        out += [(KERNELS[0], base), (KERNELS[1], base)]
        out.append((KERNELS[2], {**base, "KP": 16, "num_warps": TOPK_WARPS}))
    return out


def specialisations() -> list[tuple[str, dict]]:
    """``(kernel, specialisation)`` for every choice the launchers can make (module doc)."""
    from hepattn.kernels.triplet.limits import TOPK_MAX, TOPK_WARPS

    out = []
    precisions = [("fp32", "ieee"), ("fp32", "tf32"), ("bf16", "tf32"), ("fp16", "tf32")]
    for dp in (16, 32, 64, 128):
        warps = 8 if dp > 64 else 4
        for dtype, precision in precisions:
            base = {"DP": dp, "dtype": dtype, "PRECISION": precision, "num_warps": warps}
            for block in (16, 32):
                for name in KERNELS[:2]:
                    out.append((name, {**base, "BLOCK": block}))
            kp = 1
            while kp <= TOPK_MAX:
                for block in sorted({max(b, _pow2(math.isqrt(kp - 1) + 1)) for b in (16, 32)}):
                    spec = {**base, "BLOCK": block, "KP": kp, "num_warps": TOPK_WARPS}
                    out.append((KERNELS[2], spec))
                kp *= 4
    return out


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _ptxas() -> Path:
    """The newest ``ptxas`` the Triton wheel ships (the one that reads the PTX it writes)."""
    import triton

    bin_dir = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    newest = bin_dir / "ptxas-blackwell"
    return newest if newest.exists() else bin_dir / "ptxas"


def _resources(ptx: str, target: str) -> tuple[int, int, int]:
    """(registers per thread, spilled bytes per thread — the larger of spill stores and
    loads —, static shared bytes) of the kernel in ``ptx``, from ``ptxas -v`` for its
    ``.target``."""
    found = re.search(r"^\.target\s+(sm_\w+)", ptx, re.MULTILINE)
    arch = found.group(1) if found else target
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "k.ptx"
        src.write_text(ptx)
        run = subprocess.run(
            [str(_ptxas()), f"-arch={arch}", "-v", str(src), "-o", str(Path(tmp) / "k.cubin")],
            capture_output=True,
            text=True,
            check=False,
        )
    text = run.stdout + run.stderr
    if run.returncode != 0:
        errors = [line for line in text.splitlines() if "error" in line.lower()]
        raise RuntimeError(f"ptxas failed for {target} ({arch}): {(errors or [text])[0].strip()}")
    regs = re.search(r"Used (\d+) registers", text)
    smem = re.search(r"(\d+) bytes smem", text)
    spill = re.findall(r"(\d+) bytes spill (?:stores|loads)", text)
    return (
        int(regs.group(1)) if regs else 0,
        max((int(x) for x in spill), default=0),
        int(smem.group(1)) if smem else 0,
    )


def _kernels():
    """The kernels module (:mod:`.triton`), which must be decorated for compilation: in a
    process that loaded it for Triton's CPU interpreter (``TRITON_INTERPRET=1``), compile in
    another process (:func:`compile_in_subprocess`) — compiling beside the interpreter in one
    process upsets the interpreter's patching of ``triton.language``."""
    from hepattn.kernels.triplet import triton as kernels

    if kernels.interpreted():
        raise RuntimeError(
            "the Triton kernels were loaded for the interpreter (TRITON_INTERPRET=1) in this "
            "process; compile them in another one (compile_in_subprocess)"
        )
    return kernels


def compile_in_subprocess(items: list[tuple[str, dict, str]]) -> list[dict]:
    """:func:`compile_kernel` of ``(name, spec, target)`` items in a fresh Python process with
    the interpreter off; each result as :meth:`Compiled.to_dict` (or ``{"error": …}``)."""
    import json
    import os
    import sys

    env = {**os.environ, "TRITON_INTERPRET": "0"}
    code = (
        "import json, sys\n"
        "from hepattn.kernels.triplet.aot import compile_kernel\n"
        "out = []\n"
        "for name, spec, target in json.load(sys.stdin):\n"
        "    try:\n"
        "        out.append(compile_kernel(name, spec, target).to_dict())\n"
        "    except Exception as err:\n"
        "        out.append({'name': name, 'target': target, 'specialisation': spec,\n"
        "                    'error': str(err)})\n"
        "print(json.dumps(out))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        input=json.dumps(items),
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"the compile process failed: {run.stderr.strip().splitlines()[-1:]}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def compile_kernel(name: str, spec: dict, target: str) -> Compiled:
    """Compile kernel ``name`` of :mod:`.triton` with ``spec`` for ``target`` (``sm_80``,
    ``sm_90``)."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    fn = getattr(_kernels(), name)
    constexprs = {k: spec[k] for k in ("BLOCK", "DP", "KP", "PRECISION") if k in spec}
    constexprs["UPCAST"] = False  # on a GPU bf16 operands go to the tensor cores as they are
    signature = {}
    for arg in fn.arg_names:
        if arg in constexprs:
            signature[arg] = "constexpr"
        elif arg in POINTERS:
            kind = POINTERS[arg]
            signature[arg] = DTYPES[spec["dtype"]] if kind == "in" else kind
        else:
            signature[arg] = "i32"
    src = ASTSource(
        fn, signature, constexprs={(fn.arg_names.index(k),): v for k, v in constexprs.items()}
    )
    cc = TARGETS[target]["cc"]
    k = triton.compile(
        src, target=GPUTarget("cuda", cc, 32), options={"num_warps": spec["num_warps"]}
    )
    regs, spills, static = _resources(k.asm["ptx"], target)
    shared = static + int(k.metadata.shared)  # static + the dynamic shared memory it launches with
    return Compiled(name, target, dict(spec), regs, spills, shared, spec["num_warps"])


def occupancy(target: str, registers: int, shared_bytes: int, num_warps: int) -> float:
    """Resident warps per SM over the maximum (64), with blocks of ``num_warps`` warps
    limited by registers (allocated per warp in units of 256), shared memory, threads and
    blocks per SM; 0 when one block does not fit."""
    t = TARGETS[target]
    threads = 32 * num_warps
    regs_per_warp = -(-max(registers, 1) * 32 // 256) * 256
    by_regs = t["regs"] // (regs_per_warp * num_warps)
    by_smem = t["smem"] // shared_bytes if shared_bytes else t["blocks"]
    if shared_bytes > t["smem_block"]:
        by_smem = 0
    blocks = min(by_regs, by_smem, t["threads"] // threads, t["blocks"])
    return blocks * num_warps / (t["threads"] // 32)
