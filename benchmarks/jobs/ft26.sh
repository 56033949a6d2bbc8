#!/bin/sh
# Issue 26: the target domain of the fine-tuning benchmark — hepattn's generator with the other
# calorimeter (--detector uniform); bench_finetune.py shifts the energy scale by +5 % on read.
# All-hadronic tt̄ (train 5,000 / val 2,000 / held-out 10,000 events; seeds never used by the
# bundled matcher); the tagger's: issue 22's uniform-grid prong files (data/p22_uniform_*:
# train 1,000 / val 300 / test 1,000 jets per class, seeds 221 / 223 / 227).
#   nohup sh benchmarks/jobs/ft26.sh > data/ft26.log 2>&1 &
# CPU estimate (one job): ~5 min.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/ft26
mkdir -p $D
G="$PY -m hepattn generate ttbar --detector uniform --jobs 1 --no-progress"
[ -f $D/ttbar_train.root ] || $G -n 5000 --seed 71 -o $D/ttbar_train.root
[ -f $D/ttbar_val.root ] || $G -n 2000 --seed 73 -o $D/ttbar_val.root
[ -f $D/ttbar_test.root ] || $G -n 10000 --seed 75 -o $D/ttbar_test.root
# the tagger's target domain: issue 22's uniform-grid prong files (same seeds and counts)
P="$PY -m hepattn generate prongs --detector uniform --contained --jobs 1 --no-progress"
[ -f data/p22_uniform_test.root ] || $P -n 1000 --seed 227 -o data/p22_uniform_test.root
[ -f data/p22_uniform_train.root ] || $P -n 1000 --seed 221 -o data/p22_uniform_train.root
[ -f data/p22_uniform_val.root ] || $P -n 300 --seed 223 -o data/p22_uniform_val.root
echo FT26 DATA DONE
