#!/bin/sh
# Issue 25, multi-session: the hh-4b event classification measured. Signal (HH -> 4b), QCD
# multijet (bkg25.sh) and all-hadronic ttbar at >= 4 jets as backgrounds; the hh-4b matcher
# trained with its classification head and, on the same signal events, without it; then
# bench_classification.py against the gradient-boosted tree. Every step resumes (generation
# by chunks, finished files skipped, training --resume). From the checkout's root:
#   nohup nice -n 5 sh benchmarks/jobs/cls25.sh > data/cls25.log 2>&1 &
# CPU estimate (one thread): data ~3 h (QCD >= 4 jets ~1 h for 60,000 events), each training
# ~1 h (30 epochs cap, early stopping).
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/cls25
B=data/bkg25
mkdir -p $D $B
H="$PY -m hepattn generate hh4b --min-jets 4 --jobs 1 --no-progress"
T="$PY -m hepattn generate ttbar --min-jets 4 --jobs 1 --no-progress"
Q="$PY -m hepattn generate qcd --pthat-min 100 --min-jets 4 --jobs 1 --no-progress"
[ -f $D/hh_test.root ] || $H -n 10000 --seed 325 -o $D/hh_test.root
[ -f $D/tt4_test.root ] || $T -n 5000 --seed 335 -o $D/tt4_test.root
[ -f $B/qcd4_test.root ] || $Q -n 10000 --seed 405 -o $B/qcd4_test.root
[ -f $D/hh_val.root ] || $H -n 4000 --seed 323 -o $D/hh_val.root
[ -f $D/tt4_val.root ] || $T -n 2000 --seed 333 -o $D/tt4_val.root
[ -f $B/qcd4_val.root ] || $Q -n 4000 --seed 403 -o $B/qcd4_val.root
[ -f $D/hh_train.root ] || $H -n 40000 --seed 321 -o $D/hh_train.root
[ -f $D/tt4_train.root ] || $T -n 15000 --seed 331 -o $D/tt4_train.root
[ -f $B/qcd4_train.root ] || $Q -n 40000 --seed 401 -o $B/qcd4_train.root
TRAIN="$D/hh_train.root:hh $B/qcd4_train.root:qcd $D/tt4_train.root:ttbar"
VAL="$D/hh_val.root:hh $B/qcd4_val.root:qcd $D/tt4_val.root:ttbar"
TEST="$D/hh_test.root:hh $B/qcd4_test.root:qcd $D/tt4_test.root:ttbar"
$PY -m hepattn train matcher --topology hh-4b --classifications all --train $TRAIN --val $VAL \
  -o runs/hh4b_cls --epochs 30 --threads 1 --no-progress --resume
$PY -m hepattn train matcher --topology hh-4b --train $D/hh_train.root --val $D/hh_val.root \
  -o runs/hh4b_nocls --epochs 30 --threads 1 --no-progress --resume
$PY benchmarks/bench_classification.py --topology hh-4b --model runs/hh4b_cls/best \
  --reference runs/hh4b_nocls/best --train $TRAIN --test $TEST --save
$PY benchmarks/tables.py
echo CLS25 DONE
