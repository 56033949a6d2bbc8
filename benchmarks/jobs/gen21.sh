#!/bin/sh
# Issue 21: the all-hadronic matcher's data recipe (same as the card: seeds 61/63/65).
# Resumable: rerun the same command (sh benchmarks/jobs/gen21.sh); finished chunks are kept.
set -e
cd "$(dirname "$0")/../.."
. .venv/bin/activate
J=${JOBS:-2}
hepattn generate ttbar -n 26000 --seed 65 --jobs $J -o data/ttbar16_test.root --no-progress
hepattn generate ttbar -n 10000 --seed 63 --jobs $J -o data/ttbar16_val.root --no-progress
hepattn generate ttbar -n 500000 --seed 61 --jobs $J -o data/ttbar16_train.root --no-progress
echo GEN21 DONE
