#!/bin/sh
# Issue 22, multi-session: the tagger learning curve redone to convergence (epoch cap 60,
# patience 4) with the PFN also at the paper's size (pfn_1p2m), on regenerated prong files
# (card calorimeter, contained, seeds 101/103/107 as issue 12: the same jets, now with the
# prong_* truth branches). Needs the wt-tagger branch merged (pfn_1p2m, --merge, converged).
# Every step resumes: generation by chunks (FILE.root.parts/), finished curve points skipped,
# the cut run continued (--resume). From the checkout's root:
#   nohup nice -n 5 sh benchmarks/jobs/train22.sh > data/train22.log 2>&1 &
# CPU estimate (one thread per job): data ~80 CPU min; the curve ~10-20 CPU h (the transformer
# at 20k/class alone ~2.5 h per 20 epochs); a GPU session does the curve in well under an hour.
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
gen() {  # file jets-per-class seed
  [ -f "data/$1" ] || $PY -m hepattn generate prongs -n "$2" --contained --seed "$3" \
    --jobs "${JOBS:-1}" --no-progress -o "data/$1" --json "data/$1.json"
}
gen prongs22_test.root 2000 107
gen prongs22_val.root 1000 103
gen prongs22_train.root 20000 101
# keep issue 12's runs (20-epoch cap) beside the new ones, once
R=benchmarks/results/tagger_runs
if [ ! -d "$R/issue12" ]; then mkdir -p "$R/issue12" && mv "$R"/*.json "$R/issue12/"; fi
$PY benchmarks/bench_tagger.py --train data/prongs22_train.root --val data/prongs22_val.root \
  --test data/prongs22_test.root --threads 1 --epochs 60 --patience 4 \
  --curve 2000 5000 10000 20000 --models mass_hl pfn pfn_1p2m transformer_no_interaction \
  transformer --work data/runs22_curve --resume
$PY benchmarks/tables.py
