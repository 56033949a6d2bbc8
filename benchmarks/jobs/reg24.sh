#!/bin/sh
# Issue 24: lepton+jets data with the truth regression targets (format ttbar-v2), the recipe and
# seeds of the bundled ttbar-ljets matcher (train 201, validation 203), for its retraining with
# the neutrino and top regressions. Resumable by chunks.
#   nohup sh benchmarks/jobs/reg24.sh > data/reg24.log 2>&1 &
# CPU estimate (one job): ~30 min.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/reg24
mkdir -p $D
G="$PY -m hepattn generate ttbar --channel ljets --min-jets 4 --jobs 1 --no-progress"
[ -f $D/ljets_val.root ] || $G -n 5000 --seed 203 -o $D/ljets_val.root
[ -f $D/ljets_train.root ] || $G -n 60000 --seed 201 -o $D/ljets_train.root
echo REG24 DATA DONE
