#!/bin/sh
# Issue 23: the first entries of each bundled model's training recipe (same generator, seed and
# chunking, hence the same events as the start of the training file), from which the bundled
# models' domains are recorded without retraining (weights unchanged). Resumable by chunks.
#   nohup sh benchmarks/jobs/domain23.sh > data/domain23.log 2>&1 &
# CPU estimate (one job): ~20 min.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/domain23
mkdir -p $D
G="$PY -m hepattn generate"
[ -f $D/ttbar_allhad.root ] || $G ttbar -n 10000 --seed 61 --no-progress -o $D/ttbar_allhad.root
[ -f $D/ttbar_ljets.root ] || $G ttbar -n 10000 --seed 201 --channel ljets --min-jets 4 \
  --no-progress -o $D/ttbar_ljets.root
[ -f $D/hh4b.root ] || $G hh4b -n 10000 --seed 301 --min-jets 4 --no-progress -o $D/hh4b.root
[ -f $D/prongs.root ] || $G prongs -n 1000 --contained --seed 101 --no-progress -o $D/prongs.root
echo DOMAIN23 DATA DONE
