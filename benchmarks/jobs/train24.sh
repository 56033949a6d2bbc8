#!/bin/sh
# Issue 24: the bundled lepton+jets matcher retrained with its declared regressions — the
# neutrino pz and eta, each top's pT, m_tt — on data/reg24 (benchmarks/jobs/reg24.sh, run
# first here: finished files are skipped). Not the neutrino px, py: the network's inputs are
# invariant under rotations about the beam, so it cannot know any azimuth (its px, py
# regress to 0; the measured MET is their estimate). Resumable (--resume).
#   nohup nice -n 5 sh benchmarks/jobs/train24.sh > data/train24.log 2>&1 &
# CPU estimate (one thread): data ~45 min, training ~20-40 min (40 epochs cap, early stopping).
set -e
cd "$(dirname "$0")/../.."
export OMP_NUM_THREADS=1
PY=${PY:-python}
sh benchmarks/jobs/reg24.sh
$PY -m hepattn train matcher --topology ttbar-ljets \
  --regressions EVENT_nu_pz,EVENT_nu_eta,t_had_pt,t_lep_pt,EVENT_ttbar_mass \
  --train data/reg24/ljets_train.root --val data/reg24/ljets_val.root -o runs/ljets24b \
  --epochs 40 --threads 1 --no-progress --resume
$PY benchmarks/bench_regression.py --model runs/ljets24b/best
