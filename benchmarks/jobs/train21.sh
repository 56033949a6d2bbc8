#!/bin/sh
# Issue 21: the bundled all-hadronic matcher retrained through the one matcher (detection head
# included), same data recipe as the previous card (train seed 61, val seed 63; test seed 65).
# Resumable: rerun the same command (sh benchmarks/jobs/train21.sh) (--resume continues from runs/matcher21/last.pt).
cd "$(dirname "$0")/../.." || exit 1
. .venv/bin/activate
T=${THREADS:-2}
R=""; [ -f runs/matcher21/last.pt ] && R="--resume"
hepattn train matcher --train data/ttbar16_train.root --val data/ttbar16_val.root \
  -o runs/matcher21 --threads "$T" --no-progress $R
echo TRAIN21 DONE
