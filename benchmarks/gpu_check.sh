#!/bin/sh
# What no CPU can show, in one go on a machine with one or more NVIDIA GPUs (issue 28): the GPU
# tests, the triplet kernels against torch (fp32/tf32 and bf16, forward and backward), a bf16
# training smoke run of the matcher and of the tagger, a 2-process NCCL run when two GPUs are
# present, and ONNX Runtime's CUDA provider if installed. Each step's figures go under
# benchmarks/results/ (triplet.json gains the GPU rows; gpu_check.json: per step its exit
# status and seconds). About 5 minutes on one H100. From the checkout's root, with the venv
# active (pip install -e ".[test,kernels]" and a CUDA build of torch):
#   sh benchmarks/gpu_check.sh            # run it
#   sh benchmarks/gpu_check.sh --dry-run  # print each step, run nothing
set -u
cd "$(dirname "$0")/.."
PY=${PY:-python}
DRY=0
[ "${1:-}" = "--dry-run" ] && DRY=1
OUT=benchmarks/results/gpu_check.json
WORK=${WORK:-data/gpu_check}
NGPU=$($PY -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
[ $DRY -eq 1 ] && NGPU=${NGPU_DRY:-2}
STEPS=""

step() {  # name, command...
  name=$1; shift
  if [ $DRY -eq 1 ]; then
    echo "step $name: $*"
    return 0
  fi
  echo "== $name: $*"
  t0=$(date +%s)
  "$@"
  rc=$?
  t1=$(date +%s)
  STEPS="$STEPS{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((t1 - t0))},"
  return 0
}

if [ $DRY -eq 0 ] && [ "$NGPU" -lt 1 ]; then
  echo "gpu_check: no CUDA device here (torch.cuda.device_count() = $NGPU); --dry-run lists the steps"
  exit 1
fi
mkdir -p "$WORK"
step gpu-tests $PY -m pytest -q -m gpu
step triplet $PY benchmarks/bench_triplet.py --ns 16 32 64 128 --ds 32 64 --repeat 10
step triplet-bf16-check $PY -c "import torch; from hepattn.kernels.triplet.op import triplet_log_normalizer as f; x=torch.randn(64,32,32,device='cuda',dtype=torch.bfloat16,requires_grad=True); S=torch.randn(32,32,32,device='cuda',dtype=torch.bfloat16); m=torch.ones(64,32,dtype=torch.bool,device='cuda'); f(x,S,m,backend='triton').sum().backward(); print('bf16 triton forward+backward ok', x.grad.abs().sum().item())"
step train-matcher-bf16 $PY -m hepattn train matcher --train samples/ttbar_allhad.root --val-fraction 0.2 --epochs 2 --device cuda -o "$WORK/matcher" --no-progress
step train-tagger-bf16 $PY -m hepattn train tagger --train samples/prongs.root --val-fraction 0.2 --epochs 2 --device cuda -o "$WORK/tagger" --no-progress
if [ "$NGPU" -ge 2 ]; then
  step nccl-2proc torchrun --standalone --nproc-per-node 2 -m hepattn train matcher --train samples/ttbar_allhad.root --val-fraction 0.2 --epochs 1 --device cuda -o "$WORK/ddp" --no-progress
fi
if $PY -c "import onnxruntime as o, sys; sys.exit('CUDAExecutionProvider' not in o.get_available_providers())" 2>/dev/null || [ $DRY -eq 1 ]; then
  step onnx-cuda sh -c "$PY -m hepattn export-onnx default --task matcher -o $WORK/m.onnx && $PY -c \"import onnxruntime as o; s=o.InferenceSession('$WORK/m.onnx', providers=['CUDAExecutionProvider']); print(s.get_providers())\""
fi
step tables $PY benchmarks/tables.py
[ $DRY -eq 1 ] && exit 0
DEV=$($PY -c "import torch; print(torch.cuda.get_device_name(0))")
printf '{"device": "%s", "gpus": %s, "steps": [%s]}\n' "$DEV" "$NGPU" "${STEPS%,}" > "$OUT"
echo "wrote $OUT"
