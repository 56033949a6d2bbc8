#!/bin/sh
# Issue 25: QCD multijet backgrounds in the signal layout (hepattn generate qcd), for the event
# classification head: against hh-4b (>= 4 jets) and all-hadronic ttbar (>= 6 jets); training
# and held-out seeds apart. Resumable by chunks; long (QCD at >= 6 jets is rare).
#   nohup nice -n 5 sh benchmarks/jobs/bkg25.sh > data/bkg25.log 2>&1 &
# CPU estimate (one job): >= 4 jets ~17 events per CPU s (60,000: ~1 h); >= 6 jets a few per
# CPU s (30,000: several hours).
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
D=data/bkg25
mkdir -p $D
G="$PY -m hepattn generate qcd --pthat-min 100 --jobs 1 --no-progress"
[ -f $D/qcd4_test.root ] || $G -n 10000 --min-jets 4 --seed 405 -o $D/qcd4_test.root
[ -f $D/qcd4_train.root ] || $G -n 50000 --min-jets 4 --seed 401 -o $D/qcd4_train.root
[ -f $D/qcd6_test.root ] || $G -n 10000 --min-jets 6 --seed 415 -o $D/qcd6_test.root
[ -f $D/qcd6_train.root ] || $G -n 20000 --min-jets 6 --seed 411 -o $D/qcd6_train.root
echo BKG25 DATA DONE
