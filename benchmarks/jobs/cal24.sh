#!/bin/sh
# Issue 24: the bundled matchers' validation files (the seeds of their cards), on which the
# calibration of their probabilities is measured and fitted; held-out: the shipped samples.
#   nohup sh benchmarks/jobs/cal24.sh > data/cal24.log 2>&1 &
# CPU estimate (one job): ~15 min.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/cal24
mkdir -p $D
G="$PY -m hepattn generate"
[ -f $D/ttbar_allhad_val.root ] || $G ttbar -n 40000 --seed 63 --jobs 1 --no-progress \
  -o $D/ttbar_allhad_val.root
[ -f $D/ttbar_ljets_val.root ] || $G ttbar -n 5000 --seed 203 --channel ljets --min-jets 4 \
  --jobs 1 --no-progress -o $D/ttbar_ljets_val.root
[ -f $D/hh4b_val.root ] || $G hh4b -n 5000 --seed 303 --min-jets 4 --jobs 1 --no-progress \
  -o $D/hh4b_val.root
echo CAL24 DATA DONE
