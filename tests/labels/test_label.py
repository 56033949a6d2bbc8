"""``hepattn label``: truth labels from NanoAOD GenPart or a schema's parton branches."""

from __future__ import annotations

import hashlib
from importlib import resources

import awkward as ak
import numpy as np
import pytest
import uproot

from hepattn.cli import main
from hepattn.data import write_tree
from hepattn.labels import genpart_partons, label_events
from hepattn.topology import load_topology

FIRST, LAST = 1 << 12, 1 << 13

# Parton (eta, phi) of the all-hadronic event, by GenPart index.
B, U, DBAR, BBAR, S, CBAR = (
    (0.5, 0.1),
    (1.0, 1.5),
    (-0.5, 2.5),
    (-1.0, -1.0),
    (0.2, -2.0),
    (1.8, -2.8),
)


def ttbar_genpart(second_w: str = "had") -> dict[str, list]:
    """One tt̄ event as NanoAOD stores it: beams, gluons, tops with a copy after radiation,
    t → b W, W → q q̄′ (or ℓ ν for the anti-top's W when ``second_w == "lep"``), a copy of
    the W+ and of the b after FSR (not first copies, with other kinematics)."""
    rows = [  # (pdgId, mother, flags, eta, phi)
        (2212, -1, FIRST | LAST, 0.0, 0.0),  # 0 beam
        (2212, -1, FIRST | LAST, 0.0, 0.0),  # 1 beam
        (21, 0, FIRST | LAST, 3.0, 0.3),  # 2 g
        (21, 1, FIRST | LAST, -3.0, 0.3),  # 3 g
        (6, 2, FIRST, 0.6, 0.5),  # 4 t, first copy
        (-6, 3, FIRST, -0.6, -2.0),  # 5 t̄, first copy
        (6, 4, LAST, 0.7, 0.6),  # 6 t after radiating
        (21, 4, FIRST | LAST, 2.5, 1.0),  # 7 radiated gluon
        (-6, 5, LAST, -0.6, -2.1),  # 8 t̄ last copy
        (5, 6, FIRST, *B),  # 9 b from t
        (24, 6, FIRST, 0.8, 2.0),  # 10 W+
        (-5, 8, FIRST | LAST, *BBAR),  # 11 b̄ from t̄
        (-24, 8, FIRST | LAST, 0.6, -2.4),  # 12 W-
        (24, 10, LAST, 0.8, 2.1),  # 13 W+ copy
        (2, 13, FIRST | LAST, *U),  # 14 u
        (-1, 13, FIRST | LAST, *DBAR),  # 15 d̄
    ]
    if second_w == "had":
        rows += [(3, 12, FIRST | LAST, *S), (-4, 12, FIRST | LAST, *CBAR)]  # 16 s, 17 c̄
    else:
        rows += [(11, 12, FIRST | LAST, *S), (-12, 12, FIRST | LAST, *CBAR)]  # 16 e-, 17 ν̄
    rows.append((5, 9, LAST, 0.9, 0.6))  # 18 the b after FSR (a copy)
    cols = list(zip(*rows, strict=True))
    return {
        "pdgId": cols[0],
        "genPartIdxMother": cols[1],
        "statusFlags": cols[2],
        "eta": cols[3],
        "phi": cols[4],
    }


# Jets: near the partons (in another order), a φ wrap-around, a second jet near the b, extras.
JETS = [
    (1.8, 3.1),  # 0 c̄ across φ = ±π (ΔR 0.383)
    (-2.0, 0.0),  # 1 extra
    (0.52, 0.12),  # 2 b
    (1.05, 1.45),  # 3 u
    (0.25, -2.05),  # 4 s
    (-1.1, -1.05),  # 5 b̄
    (-0.5, 3.0),  # 6 near d̄ but ΔR 0.5
    (2.2, 2.0),  # 7 extra
    (0.6, 0.2),  # 8 also near the b, farther than jet 2
]
ALLHAD_PARTON_JET = [2, 3, -1, 5, 4, 0]
ALLHAD_JET_PARTON = [5, -1, 0, 1, 4, 3, -1, -1, -1]


def _event(gen: dict, jets=JETS) -> dict:
    return {"gen": gen, "jets": jets}


def write_nanoaod(path, events, genpart: bool = True) -> None:
    jets = [e["jets"] for e in events]
    branches = {
        "Jet": ak.zip(
            {
                "pt": ak.Array([[40.0 + i for i in range(len(j))] for j in jets]),
                "eta": ak.Array([[x[0] for x in j] for j in jets]),
                "phi": ak.Array([[x[1] for x in j] for j in jets]),
                "mass": ak.Array([[5.0] * len(j) for j in jets]),
                "btagDeepFlavB": ak.Array([[0.1] * len(j) for j in jets]),
            }
        ),
        "event": np.arange(len(events), dtype=np.int64),
    }
    if genpart:
        gens = [e["gen"] for e in events]
        fields = {
            "pdgId": np.int32,
            "genPartIdxMother": np.int16,
            "statusFlags": np.int32,
            "eta": np.float32,
            "phi": np.float32,
        }
        rec = {
            k: ak.values_astype(ak.Array([list(g[k]) for g in gens]), t) for k, t in fields.items()
        }
        n = ak.num(rec["pdgId"])
        rec["pt"] = ak.ones_like(rec["eta"]) * 50
        rec["mass"] = ak.zeros_like(rec["eta"])
        assert len(n) == len(events)
        branches["GenPart"] = ak.zip(rec)
    write_tree(path, branches, tree="Events")


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture
def nano(tmp_path):
    path = tmp_path / "nano.root"
    events = [
        _event(ttbar_genpart("had")),
        _event(ttbar_genpart("lep")),
        _event({k: v[:4] for k, v in ttbar_genpart("had").items()}),  # no tops: not followable
        _event(ttbar_genpart("had"), jets=[]),  # no jets
    ]
    write_nanoaod(path, events)
    return path


def _read(path):
    f = uproot.open(path)
    t = f["labels"]
    meta = {k.split(";")[0]: str(f[k]) for k in f.keys() if f.classname_of(k) == "TObjString"}
    return t.arrays(["jet_parton", "parton_jet"], library="ak"), t.num_entries, meta


def _check_inverse(arrays, n_partons):
    for jp, pj in zip(
        ak.to_list(arrays["jet_parton"]), ak.to_list(arrays["parton_jet"]), strict=True
    ):
        assert len(pj) == n_partons
        for j, p in enumerate(jp):
            if p >= 0:
                assert pj[p] == j
        for p, j in enumerate(pj):
            if j >= 0:
                assert jp[j] == p
        hit = [j for j in pj if j >= 0]
        assert len(hit) == len(set(hit))  # unique


def test_allhad_from_genpart_matches_hand_labels(nano, tmp_path, capsys, caplog):
    before = _sha(nano)
    out = tmp_path / "labels.root"
    assert main(["label", str(nano), "-o", str(out), "--topology", "ttbar-allhad"]) == 0
    text = capsys.readouterr().out
    assert "labelled 4 events" in text and "2 events without" in text
    assert _sha(nano) == before
    assert "2 of 4 events: the topology's partons were not found" in caplog.text
    arrays, n, meta = _read(out)
    assert n == 4
    assert arrays["jet_parton"].type.content.content.primitive == "int32"
    assert arrays["parton_jet"].type.content.content.primitive == "int32"
    jp, pj = ak.to_list(arrays["jet_parton"]), ak.to_list(arrays["parton_jet"])
    assert pj[0] == ALLHAD_PARTON_JET and jp[0] == ALLHAD_JET_PARTON
    assert pj[1] == pj[2] == [-1] * 6 and jp[1] == jp[2] == [-1] * len(JETS)  # lep W, no tops
    assert pj[3] == [-1] * 6 and jp[3] == []
    _check_inverse(arrays, 6)
    assert meta["topology"] == "ttbar-allhad"
    assert "Delta R < 0.4" in meta["rule"] and "unique" in meta["rule"]
    assert "closest" in meta["rule"] and "GenPart" in meta["rule"]
    assert meta["parton_order"] == "b,q1,q2,b',q1',q2'"


def test_ljets_and_max_dr(nano, tmp_path, capsys):
    out = tmp_path / "lj.root"
    argv = ["label", str(nano), "-o", str(out), "--topology", "ttbar-ljets", "--no-progress"]
    assert main(argv) == 0
    arrays, _, meta = _read(out)
    pj = ak.to_list(arrays["parton_jet"])
    # t_had = the top (b, u, d̄), t_lep = the anti-top (b̄, e, ν): lepton and ν are not jets
    assert pj[0] == [-1] * 6  # both Ws hadronic: not lepton+jets
    assert pj[1] == [2, 3, -1, 5, -1, -1]
    assert ak.to_list(arrays["jet_parton"])[1] == [-1, -1, 0, 1, -1, 3, -1, -1, -1]
    _check_inverse(arrays, 6)
    assert meta["topology"] == "ttbar-ljets"
    # a wider cone: d̄ now takes jet 6 (ΔR 0.5)
    out2 = tmp_path / "wide.root"
    assert (
        main(["label", str(nano), "-o", str(out2), "--topology", "ttbar-allhad", "--max-dr", "0.6"])
        == 0
    )
    arrays, _, meta = _read(out2)
    assert ak.to_list(arrays["parton_jet"])[0] == [2, 3, 6, 5, 4, 0]
    assert "Delta R < 0.6" in meta["rule"]


def test_hh_from_genpart():
    rows = [  # (pdgId, mother, flags)
        (21, -1, FIRST),
        (21, -1, FIRST),
        (25, 0, FIRST),
        (25, 1, FIRST),
        (25, 2, LAST),  # H1, H2, a copy of H1
        (5, 4, FIRST),
        (-5, 4, FIRST),
        (5, 3, FIRST),
        (-5, 3, FIRST),
    ]
    ids, mothers, flags = (list(c) for c in zip(*rows, strict=True))
    hh = load_topology("hh-4b")
    (idx,) = genpart_partons(hh, [ids], [mothers], [flags])
    assert idx.tolist() == [5, 6, 7, 8]
    res = label_events(hh, [[0.0, 1.0]], [[0.0, 1.0]], [[1.0, 5.0, 0.1, 9.0]], [[1.0, 0, 0, 0]])
    assert res.parton_jet.tolist() == [[1, -1, 0, -1]] and res.jet_parton[0].tolist() == [2, 0]
    assert res.n_failed == 0


def test_partons_from_schema_branches(tmp_path, capsys):
    path = tmp_path / "own.root"
    parts = [B, U, DBAR, BBAR, S, CBAR]
    branches = {
        "jet": ak.zip(
            {k: ak.Array([[x[i] for x in JETS]] * 2) for i, k in enumerate(("eta", "phi"))}
            | {"pt": ak.Array([[50.0] * len(JETS)] * 2)}
        ),
        "parton": ak.zip(
            {
                k: ak.Array([[x[i] for x in parts], [x[i] for x in parts[:5]]])
                for i, k in enumerate(("eta", "phi"))
            }
        ),
    }
    write_tree(path, branches, tree="mine")
    schema = tmp_path / "mine.yaml"
    schema.write_text(
        "name: mine\ntree: mine\ncollections:\n"
        "  jets: {kinematics: ptetaphie, branches: {pt: jet_pt, eta: jet_eta, phi: jet_phi,"
        " energy: jet_pt}}\n"
        "  partons: {kinematics: ptetaphie, branches: {pt: parton_eta, eta: parton_eta,"
        " phi: parton_phi, energy: parton_eta}}\n"
    )
    out = tmp_path / "labels.root"
    argv = [
        "label",
        str(path),
        "-o",
        str(out),
        "--topology",
        "ttbar-allhad",
        "--schema",
        str(schema),
    ]
    assert main(argv) == 0
    arrays, n, meta = _read(out)
    assert n == 2
    assert ak.to_list(arrays["parton_jet"]) == [ALLHAD_PARTON_JET, [-1] * 6]  # 5 partons: none
    assert ak.to_list(arrays["jet_parton"])[0] == ALLHAD_JET_PARTON
    assert "schema's parton branches" in meta["rule"]


def test_bad_inputs_one_line(nano, tmp_path, capsys):
    nogen = tmp_path / "nogen.root"
    write_nanoaod(nogen, [_event({})], genpart=False)
    out = tmp_path / "x.root"
    mine = tmp_path / "my-hh.yaml"
    text = (resources.files("hepattn") / "configs/topologies/hh-4b.yaml").read_text()
    # the declaration without its defaults: no GenPart finder named (defaults.genpart)
    mine.write_text(text.replace("name: hh-4b", "name: my-hh").split("defaults:")[0])
    cases = [
        (["label", str(nogen), "-o", str(out), "--topology", "ttbar-allhad"], "GenPart_pdgId"),
        (
            ["label", str(nano), "-o", str(out), "--topology", str(mine)],
            "its partons are not found in GenPart",
        ),
        (
            ["label", str(nano), "-o", str(out), "--topology", "hh-4b", "--partons", "schema"],
            "no collection 'partons'",
        ),
        (["label", str(nano), "-o", str(out), "--topology", "hh-4b", "--max-dr", "0"], "max-dr"),
        (["label", str(nano), "-o", str(out), "--topology", "zz-4l"], "zz-4l"),
        (["label", str(nano), "-o", str(nano), "--topology", "ttbar-allhad"], "nano.root"),
    ]
    for argv, needle in cases:
        before = _sha(nano)
        assert main(argv) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        err = [x for x in lines if not x.startswith("INFO ")]
        assert len(err) == 1 and err[0].startswith("hepattn label: error:") and needle in err[0]
        assert _sha(nano) == before
    assert not out.exists()


def test_reproduces_the_generators_labels_on_the_shipped_sample(tmp_path):
    from tests.tasks.test_matching_task import slice_file

    path = tmp_path / "slice.root"
    slice_file(path, 0, 400)
    out = tmp_path / "labels.root"
    assert main(["label", str(path), "-o", str(out), "--topology", "ttbar-allhad"]) == 0
    want = uproot.open(path)["events"].arrays(["jet_parton", "parton_jet"])
    got, n, meta = _read(out)
    assert n == 400 and meta["source"] == "schema"
    assert ak.to_list(got["jet_parton"]) == ak.to_list(want["jet_parton"])
    assert ak.to_list(got["parton_jet"]) == ak.to_list(want["parton_jet"])


def test_hh_4b_from_a_nanoaod_file(tmp_path, capsys):
    rows = [  # (pdgId, mother, flags, eta, phi)
        (21, -1, FIRST | LAST, 3.0, 0.0),
        (21, -1, FIRST | LAST, -3.0, 0.0),
        (25, 0, FIRST, 0.1, 1.0),  # 2 H1
        (25, 1, FIRST, -0.1, -1.0),  # 3 H2
        (25, 2, LAST, 0.1, 1.1),  # 4 H1 after a recoil
        (5, 4, FIRST | LAST, 0.4, 0.8),  # 5 b of H1
        (-5, 4, FIRST | LAST, -0.2, 1.4),  # 6 b̄ of H1
        (5, 3, FIRST | LAST, -0.5, -0.7),  # 7 b of H2
        (-5, 3, FIRST | LAST, 0.3, -1.3),  # 8 b̄ of H2
    ]
    cols = list(zip(*rows, strict=True))
    keys = ("pdgId", "genPartIdxMother", "statusFlags", "eta", "phi")
    gen = dict(zip(keys, cols, strict=True))
    jets = [(0.3, -1.35), (1.5, 2.5), (-0.45, -0.72), (0.41, 0.79), (-0.25, 1.45)]
    path = tmp_path / "hh.root"
    write_nanoaod(path, [_event(gen, jets)])
    out = tmp_path / "hh_labels.root"
    assert main(["label", str(path), "-o", str(out), "--topology", "hh-4b", "--no-progress"]) == 0
    assert "without" in capsys.readouterr().out
    arrays, n, meta = _read(out)
    assert ak.to_list(arrays["parton_jet"]) == [[3, 4, 2, 0]]
    assert ak.to_list(arrays["jet_parton"]) == [[3, -1, 2, 0, 1]]
    assert meta["topology"] == "hh-4b" and meta["parton_order"] == "b1,b2,b3,b4"


def _nano_with_scores(path, scores) -> None:
    """The all-hadronic event once per row of ``scores`` (one b-tag score per jet)."""
    write_nanoaod(path, [_event(ttbar_genpart("had")) for _ in scores])
    tree = uproot.open(path)["Events"].arrays(library="ak")
    branches = {f: tree[f] for f in tree.fields if not f.startswith(("Jet_", "GenPart_", "n"))}
    jet = {f[4:]: tree[f] for f in tree.fields if f.startswith("Jet_")}
    jet["btagDeepFlavB"] = ak.Array(scores)
    gen = {f[8:]: tree[f] for f in tree.fields if f.startswith("GenPart_")}
    branches.update(Jet=ak.zip(jet), GenPart=ak.zip(gen))
    write_tree(path, branches, tree="Events")


def test_btag_decisions_at_a_working_point(tmp_path, capsys):
    """--btag-wp writes jet_btag (score > WP) in the file's jet order, the rule in metadata;
    a schema reads it through --friend as the jets' 0/1 btag field."""
    from hepattn.data.root import iterate_branches
    from hepattn.data.schema import get_schema

    scores = [[0.9, 0.1, 0.2783, 0.3, 0.0, 0.99, 0.5, 0.05, 0.28], [0.01] * len(JETS)]
    path, out = tmp_path / "nano.root", tmp_path / "labels.root"
    _nano_with_scores(path, scores)
    before = _sha(path)
    argv = ["label", str(path), "-o", str(out), "--topology", "ttbar-allhad", "--btag-wp", "0.2783"]
    assert main([*argv, "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "Jet_btagDeepFlavB > 0.2783" in text and "5 jets tagged" in text and "jet_btag" in text
    assert _sha(path) == before
    f = uproot.open(out)
    got = f["labels"].arrays(["jet_btag", "parton_jet"], library="ak")
    assert got["jet_btag"].type.content.content.primitive == "int32"
    assert ak.to_list(got["jet_btag"]) == [[1, 0, 0, 1, 0, 1, 1, 0, 1], [0] * len(JETS)]
    assert ak.to_list(got["parton_jet"])[0] == ALLHAD_PARTON_JET
    assert str(f["btag_rule"]) == "jet_btag = 1 when Jet_btagDeepFlavB > 0.2783, else 0"
    schema = tmp_path / "s.yaml"
    schema.write_text(
        "name: nano-decisions\ntree: Events\ncollections:\n  jets:\n    kinematics: ptetaphim\n"
        "    branches: {pt: Jet_pt, eta: Jet_eta, phi: Jet_phi, mass: Jet_mass}\n"
        "    fields: {btag: jet_btag}\n    counter: nJet\n"
    )
    s = get_schema(str(schema))
    (chunk,) = iterate_branches(path, s, ["nJet", "jet_btag"], friends=[out])
    assert ak.to_list(chunk.arrays["jet_btag"]) == ak.to_list(got["jet_btag"])


def test_btag_wp_bad_inputs_one_line(tmp_path, capsys):
    nan, out = tmp_path / "nan.root", tmp_path / "x.root"
    _nano_with_scores(nan, [[0.5] * len(JETS), [0.1, float("nan")] + [0.2] * (len(JETS) - 2)])
    noscore = tmp_path / "noscore.yaml"
    noscore.write_text(
        "name: no-score\ntree: Events\ncollections:\n  jets:\n    kinematics: ptetaphim\n"
        "    branches: {pt: Jet_pt, eta: Jet_eta, phi: Jet_phi, mass: Jet_mass}\n"
    )
    base = ["label", str(nan), "-o", str(out), "--topology", "ttbar-allhad", "--no-progress"]
    cases = [
        ([*base, "--btag-wp", "0.3"], "entry 1"),
        ([*base, "--btag-wp", "nan"], "finite"),
        ([*base, "--btag-wp", "0.3", "--schema", str(noscore)], "no 'btag_score' field"),
    ]
    for argv, needle in cases:
        before = _sha(nan)
        assert main(argv) == 1
        lines = capsys.readouterr().err.strip().splitlines()
        err = [x for x in lines if not x.startswith(("INFO ", "WARNING "))]
        assert len(err) == 1 and err[0].startswith("hepattn label: error:") and needle in err[0]
        assert _sha(nan) == before
        assert not out.exists()
