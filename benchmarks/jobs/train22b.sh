#!/bin/sh
# Issue 22, after train22.sh (same data, same run directory): the 135-value Mass + HL beside the
# others on the converged curve, then every baseline again at the transformer's CPU budget at
# each curve point (equal-CPU-budget reporting). Resumable: finished runs are skipped.
#   nohup nice -n 5 sh benchmarks/jobs/train22b.sh > data/train22b.log 2>&1 &
# CPU estimate (one thread): mass_hl135 ~1 h for the curve; the budget runs ~ the transformer's.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
for f in prongs22_train.root prongs22_val.root prongs22_test.root; do
  [ -f "data/$f" ] || { echo "data/$f missing: run benchmarks/jobs/train22.sh first"; exit 1; }
done
ARGS="--train data/prongs22_train.root --val data/prongs22_val.root --test data/prongs22_test.root
  --threads 1 --patience 4 --curve 2000 5000 10000 20000 --work data/runs22_curve --resume"
$PY benchmarks/bench_tagger.py $ARGS --epochs 60 --models mass_hl135
$PY benchmarks/bench_tagger.py $ARGS --epochs 400 --models mass_hl mass_hl135 pfn pfn_1p2m \
  --cpu-budget transformer
$PY benchmarks/tables.py
