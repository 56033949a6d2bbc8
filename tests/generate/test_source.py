"""The two event sources: bulk reading equals the per-particle loop, the history questions
agree, and preselection hooks veto, count and dry-run as documented."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pythia8mc")
pytest.importorskip("fastjet")

from hepattn.generate.prongs import CLASS_SETTINGS, ProngsConfig, preselection  # noqa: E402
from hepattn.generate.pythia import (  # noqa: E402
    ArrayChain,
    EventChain,
    make_pythia,
    read_batch,
    read_particles,
)
from hepattn.generate.source import Preselection, events  # noqa: E402
from hepattn.generate.ttbar import SETTINGS, top_partons  # noqa: E402

FIELDS = ("pdgid", "status", "px", "py", "pz", "e")


@pytest.mark.parametrize("settings", [SETTINGS, CLASS_SETTINGS["8"]], ids=["ttbar", "8"])
def test_batch_read_equals_loop_and_histories_agree(settings):
    loop, batch = make_pythia(settings, 11), make_pythia(settings, 11)
    for parts_b, weight in read_batch(batch.nextBatch(3)):
        assert loop.next()
        parts_a = read_particles(loop.event)
        for f in FIELDS:
            np.testing.assert_array_equal(getattr(parts_a, f), getattr(parts_b, f), err_msg=f)
        assert weight == loop.infoPython().weight()
        chain_a, chain_b = EventChain(loop.event), ArrayChain(parts_b)
        for i in np.flatnonzero(np.abs(parts_a.status) != 12):  # beams list extra daughters
            assert chain_a.daughters(i) == chain_b.daughters(i)
            assert chain_a.bottom_copy(i) == chain_b.bottom_copy(i)
        if settings is SETTINGS:
            assert top_partons(chain_a, parts_a.pdgid) == top_partons(chain_b, parts_b.pdgid)


def test_fast_path_counts_vetoed_events():
    seen = []

    def every_other(parts, chain):
        seen.append(len(parts.pdgid))
        return len(seen) % 2 == 0

    stream = events(SETTINGS, 5, fast=True, cuts=Preselection(process=every_other), batch_size=4)
    numbers = [next(stream).number for _ in range(6)]
    # a batch of 4 kept events took 8 generated ones; the vetoed are numbered before them,
    # so numbers increase and count every generated event
    assert numbers == [4, 5, 6, 7, 12, 13]
    assert len(seen) == 16


def test_dry_run_flags_instead_of_vetoing():
    cuts = Preselection(parton=lambda event: False)
    stream = events(SETTINGS, 5, fast=False, cuts=cuts, dry_run=True)
    got = [next(stream) for _ in range(3)]
    assert [ev.number for ev in got] == [0, 1, 2]
    assert not any(ev.preselected for ev in got)
    with pytest.raises(ValueError, match="dry_run"):
        next(events(SETTINGS, 5, fast=True, cuts=cuts, dry_run=True))


def test_prong_preselection_keeps_what_the_plain_path_keeps():
    """On the plain path with the fast path's hooks in dry-run, the hooks veto events, and
    (for this seed) none that gives a kept jet of a contained 8-prong sample; the benchmark
    measures the rate on 2,000 jets per class (0.15–0.8 %, hard-ISR events). QCD has no
    preselection."""
    from hepattn.generate.detector import Calorimeter
    from hepattn.generate.prongs import jets_of_event
    from hepattn.generate.pythia import chunk_rngs

    config = ProngsConfig(n_jets=8, contained=True, fast=False)
    assert preselection(config, "1") is None
    seed, rng = chunk_rngs(3, 8, 0)
    calo, kept, vetoed = Calorimeter(), 0, 0
    for ev in events(CLASS_SETTINGS["8"], seed, fast=False, cuts=preselection(config, "8"),
                     dry_run=True):  # fmt: skip
        vetoed += not ev.preselected
        for _ in jets_of_event(config, "8", calo, ev, rng):
            assert ev.preselected
            kept += 1
        if kept >= 8:
            break
    assert vetoed > 0  # the hooks do veto events that give no kept jet
