#!/bin/sh
# Issue 24: the bundled lepton+jets matcher retrained with its declared regressions (the
# neutrino px, py, pz, eta; each top's pT; m_tt) on data/reg24 (benchmarks/jobs/reg24.sh, run
# first here: finished files are skipped). Resumable (--resume).
#   nohup nice -n 5 sh benchmarks/jobs/train24.sh > data/train24.log 2>&1 &
# CPU estimate (one thread): data ~30 min, training ~15-20 min (20 epochs, early stopping).
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
sh benchmarks/jobs/reg24.sh
$PY -m hepattn train matcher --topology ttbar-ljets --regressions all \
  --train data/reg24/ljets_train.root --val data/reg24/ljets_val.root -o runs/ljets24 \
  --threads 1 --no-progress --resume
$PY benchmarks/bench_regression.py --model runs/ljets24/best
