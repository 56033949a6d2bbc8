"""Declared topologies: parton order, head order, symmetries, YAML loading and its errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from hepattn.topology import (
    BUILTIN_TOPOLOGIES,
    LOG2,
    TOPOLOGIES,
    TTBAR_ALLHAD,
    Resonance,
    Topology,
    TopologyError,
    load_topology,
    topology_from_dict,
)


def test_ttbar_orders_and_symmetries():
    t = TTBAR_ALLHAD
    assert t.partons == ("b", "q1", "q2", "b′", "q1′", "q2′") and t.n_partons == 6
    assert t.order_string == "b,q1,q2,b',q1',q2'"
    assert t.head_index == ((1, 2, 0), (4, 5, 3))
    assert t.resonances[0].from_head == (2, 0, 1)
    assert t.permutations == ((0, 1), (1, 0))
    assert t.resonances[0].log_multiplicity == pytest.approx(LOG2) == math.log(2)
    assert TOPOLOGIES["ttbar-allhad"] is t
    # head order then back to parton order is the identity
    a = np.arange(6)[None]
    for r, res in enumerate(t.resonances):
        np.testing.assert_array_equal(
            a[:, list(t.head_index[r])][:, list(res.from_head)], a[:, 3 * r : 3 * r + 3]
        )


def test_declarations_are_checked_and_not_exchangeable_has_one_order():
    with pytest.raises(ValueError, match="repeated"):
        Resonance("t", ("b", "b"))
    with pytest.raises(ValueError, match="not all daughters"):
        Resonance("t", ("b", "q1"), symmetric=("q1", "q3"))
    one = Topology("single", (Resonance("W", ("q1", "q2"), ("q1", "q2")),), exchangeable=False)
    assert one.permutations == ((0,),) and one.head_index == ((0, 1),)


def test_builtin_allhad_equals_the_former_declaration():
    former = Topology(
        "ttbar-allhad",
        (
            Resonance("t1", ("b", "q1", "q2"), ("q1", "q2"), ("jets",) * 3),
            Resonance("t2", ("b", "q1", "q2"), ("q1", "q2"), ("jets",) * 3),
        ),
        exchangeable=(("t1", "t2"),),
    )
    import dataclasses

    from hepattn.topology import Defaults, Report

    structure = dataclasses.replace(
        TTBAR_ALLHAD,
        resonances=tuple(dataclasses.replace(r, aliases=()) for r in TTBAR_ALLHAD.resonances),
        defaults=Defaults(),
        report=Report(),
        regressions=(),
        classifications=(),
    )
    assert structure == former  # the same partons and symmetries; declared extras besides
    assert load_topology("ttbar-allhad") is TTBAR_ALLHAD
    assert set(BUILTIN_TOPOLOGIES) == {"ttbar-allhad", "ttbar-ljets", "hh-4b"}
    # exchangeable=True is the same symmetry as the one declared group
    same = Topology("x", former.resonances, exchangeable=True)
    assert same.permutations == TTBAR_ALLHAD.permutations == ((0, 1), (1, 0))
    assert TTBAR_ALLHAD.orders == (3, 3)
    assert TTBAR_ALLHAD.jet_head_index == TTBAR_ALLHAD.head_index


def test_ljets_and_hh4b():
    lj = load_topology("ttbar-ljets")
    assert lj.partons == ("b_had", "q1", "q2", "b_lep", "l", "nu")
    assert lj.orders == (3, 1) and lj.permutations == ((0, 1),)
    assert lj.jet_head_index == ((1, 2, 0), (3,))
    assert lj.qualified[3:] == ("t_lep_b_lep", "t_lep_l", "t_lep_nu")
    assert [c.name for c in lj.collections] == ["jets", "lepton", "met"]
    assert lj.collections[2].max_objects == 1 and lj.collections[2].transverse
    assert not lj.collections[1].transverse
    hh = load_topology("hh-4b")
    assert hh.partons == ("b1", "b2", "b3", "b4") and hh.orders == (2, 2)
    assert hh.permutations == ((0, 1), (1, 0))
    assert [r.log_multiplicity for r in hh.resonances] == [pytest.approx(LOG2)] * 2


def readme_example() -> str:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    block = text.split("### Declared event topologies", 1)[1].split("```yaml\n", 1)[1]
    return block.split("```", 1)[0]


def test_the_readme_example_loads_from_a_file(tmp_path):
    path = tmp_path / "tth.yaml"
    path.write_text(readme_example())
    t = load_topology(path)
    assert t.name == "tth-bb-ljets" and t.orders == (3, 1, 2)
    assert t.permutations == ((0, 1, 2),)
    assert t.partons[-2:] == ("b1", "b2")


def test_groups_of_exchangeable_resonances_give_products_of_permutations():
    data = yaml.safe_load(readme_example())
    data["resonances"]["H2"] = {
        "daughters": {"b3": "jets", "b4": "jets"},
        "symmetric": ["b3", "b4"],
    }
    data["exchangeable"] = [["H", "H2"]]
    assert topology_from_dict(data).permutations == ((0, 1, 2, 3), (0, 1, 3, 2))


def bad(**change):
    data = yaml.safe_load(readme_example())
    for path, value in change.items():
        *keys, last = path.split("__")
        node = data
        for key in keys:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"resonances__H__daughters__b2": "fatjets"},
            r"resonances\.H\.daughters\.b2: unknown collection 'fatjets'",
        ),
        (
            {"resonances__H__daughters": {"l2": "lepton"}},
            r"resonances\.H\.daughters: 0 daughters from 'jets'",
        ),
        (
            {
                "resonances__H__daughters": {f"b{i}": "jets" for i in range(4)},
                "resonances__H__symmetric": ["b0", "b1"],
            },
            r"resonances\.H\.daughters: 4 daughters from 'jets'; the heads serve 1 to 3",
        ),
        (
            {"resonances__H__symmetric": ["b1", "b3"]},
            r"resonances\.H\.symmetric: 'b3' is not a daughter of 'H'",
        ),
        (
            {"resonances__t_lep__symmetric": ["b_lep", "l"]},
            r"resonances\.t_lep\.symmetric: 'l' is not a 'jets' daughter",
        ),
        (
            {"resonances__t_had__symmetric": ["q1", "q1"]},
            r"resonances\.t_had\.symmetric: duplicate names",
        ),
        ({"resonances__t_had__symmetric": []}, r"resonances\.t_had\.symmetric: .*triplet kernels"),
        ({"exchangeable": [["t_had", "t_top"]]}, r"exchangeable: 't_top' is not a resonance"),
        ({"exchangeable": [["t_had", "t_lep"]]}, r"exchangeable: \['t_had', 't_lep'\] differ"),
        (
            {"exchangeable": [["H", "t_had"], ["H", "t_lep"]]},
            r"exchangeable: .*differ|'H' is in two groups",
        ),
        (
            {"collections__met": {"max_objects": 0}},
            r"collections\.met\.max_objects: must be a positive",
        ),
        ({"collections__lepton": {}}, r"resonances\.t_lep\.daughters\.l: only 'jets' daughters"),
        ({"collections__jets": None}, r"collections: the 'jets' collection .* is missing"),
        ({"resonances__H__spin": 0}, r"resonances\.H: unknown keys \['spin'\]"),
        ({"colections": {}}, r"\(top level\): unknown keys \['colections'\]"),
        (
            {"collections__met": {"max_objects": 1, "transverse": "yes"}},
            r"collections\.met\.transverse: must be true or false",
        ),
        ({"collections__jets": {"transverse": True}}, r"collections\.jets\.transverse: jets are"),
        ({"name": None}, r"name: missing"),
        ({"resonances": {}}, r"resonances: at least one resonance"),
        ({"defaults": {"schema": 3}}, r"defaults\.schema: must be a non-empty string"),
        ({"defaults": {"detector": "x"}}, r"defaults: unknown keys \['detector'\]"),
        ({"report": {"columns": ["event", "top"]}}, r"report\.columns: 'top' is neither"),
        ({"report": {"labels": {"nope": "x"}}}, r"report\.labels: 'nope' is neither"),
        ({"report": {"aliases": {"full": ""}}}, r"report\.aliases\.full: must be a non-empty"),
        ({"resonances__H__aliases": ["t_had"]}, r"resonances: an alias repeats"),
        ({"regressions": {"name": "x"}}, r"regressions: expected a list"),
        ({"regressions": [{"name": "x"}]}, r"regressions\[0\]\.field: missing"),
        ({"regressions": [{"name": "x", "field": 3}]}, r"regressions\[0\]\.field: must be"),
        ({"regressions": [{"name": "a b", "field": "f"}]}, r"regressions\[0\]\.name: 'a b'"),
        (
            {"regressions": [{"name": "pt", "field": "f", "resonance": "top"}]},
            r"regressions\[0\]\.resonance: 'top' is not a resonance",
        ),
        (
            {"regressions": [{"name": "m", "field": "f", "weight": -1}]},
            r"regressions\[0\]\.weight: must be a number >= 0",
        ),
        (
            {"regressions": [{"name": "m", "field": "f", "unit": "GeV"}]},
            r"regressions\[0\]: unknown keys \['unit'\]",
        ),
        (
            {
                "regressions": [
                    {"name": "pt", "field": "f", "resonance": "H"},
                    {"name": "pt", "field": "g", "resonance": "H"},
                ]
            },
            r"regressions\[1\]\.name: 'pt' is declared twice for resonance 'H'",
        ),
        (
            {"regressions": [{"name": "b1", "field": "f", "resonance": "H"}]},
            r"regressions\[0\]\.name: 'b1' would write H_b1, a branch of the assignment",
        ),
        (
            {"regressions": [{"name": "prob", "field": "f", "resonance": "H"}]},
            r"regressions\[0\]\.name: 'prob' would write H_prob",
        ),
    ],
)
def test_bad_declarations_name_the_key(change, message):
    with pytest.raises(TopologyError, match=message):
        topology_from_dict(bad(**change), "my.yaml")


def test_duplicate_yaml_keys_and_bad_files_are_named(tmp_path):
    with pytest.raises(TopologyError, match="neither a built-in topology"):
        load_topology(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(TopologyError, match="broken.yaml: not valid YAML"):
        load_topology(broken)
    # two lepton daughters for a one-object lepton collection
    data = bad(resonances__H__daughters={"b1": "jets", "l2": "lepton"}, resonances__H__symmetric=[])
    with pytest.raises(TopologyError, match=r"collections\.lepton: 2 daughters but max_objects 1"):
        topology_from_dict(data)


def test_repeated_names_in_a_file_are_refused(tmp_path):
    text = readme_example().replace("  H:\n", "  t_had:\n")  # two resonances named t_had
    path = tmp_path / "dup.yaml"
    path.write_text(text)
    with pytest.raises(TopologyError, match="dup.yaml: not valid YAML.*duplicate key 't_had'"):
        load_topology(path)


def test_declarations_carry_their_defaults_report_and_aliases():
    """What commands use for a topology is declared with it (no code asks which topology it
    has): schema, baseline, bundled model, GenPart finder, table columns, older names."""
    from hepattn.baselines.registry import BASELINES
    from hepattn.labels import GENPART_FINDERS
    from hepattn.topology import TOPOLOGIES, TTBAR_ALLHAD, topology_from_entry

    for t in TOPOLOGIES.values():
        assert t.defaults.schema and t.defaults.model
        assert t.defaults.baseline in BASELINES and t.defaults.genpart in GENPART_FINDERS
        assert topology_from_dict(t.declaration(), "round trip") == t
    assert TTBAR_ALLHAD.report_columns == ("event", "full", "single")
    assert dict(TTBAR_ALLHAD.report.aliases)["full"] == "top2"
    assert [r.aliases for r in TTBAR_ALLHAD.resonances] == [("top1",), ("top2",)]
    assert TOPOLOGIES["hh-4b"].report_columns == ("event", "H1", "H2")
    assert topology_from_entry(None) is TTBAR_ALLHAD
    mine = topology_from_dict(yaml.safe_load(readme_example()), "mine.yaml")
    assert mine.defaults.baseline is None and mine.partons_from("lepton") == (4,)
    assert mine.defaults.schema == "hepattn-ttbar-ljets"


def test_regressions_are_declared_beside_the_resonances_and_round_trip():
    """SPANet's event file declares regressions beside the particles: event-level ones, and
    per resonance, each naming the field that holds its target and its loss weight."""
    from hepattn.topology import TOPOLOGIES, Regression

    data = yaml.safe_load(readme_example())
    data["regressions"] = [
        {"name": "nu_pz", "field": "truth_nu_pz"},
        {"name": "pt", "field": "truth_t_had_pt", "resonance": "t_had", "weight": 0.5},
        {"name": "pt", "field": "truth_h_pt", "resonance": "H"},
    ]
    t = topology_from_dict(data, "mine.yaml")
    assert t.regressions[1] == Regression("pt", "truth_t_had_pt", "t_had", 0.5)
    assert [r.key for r in t.regressions] == ["EVENT_nu_pz", "t_had_pt", "H_pt"]
    assert t.regression("H_pt").field == "truth_h_pt"
    with pytest.raises(TopologyError, match="declares no regression 'EVENT_mass'"):
        t.regression("EVENT_mass")
    declared = t.declaration()["regressions"]
    assert declared[0] == {"name": "nu_pz", "field": "truth_nu_pz"}  # defaults left out
    assert declared[1]["weight"] == 0.5
    assert topology_from_dict(t.declaration(), "round trip") == t
    # the built-ins declare the generators' truth targets (formats ttbar-v2, hh4b-v2)
    keys = {n: {r.key: r.field for r in t.regressions} for n, t in TOPOLOGIES.items()}
    assert keys["ttbar-ljets"] == {
        **{f"EVENT_nu_{c}": f"truth_nu_{c}" for c in ("px", "py", "pz", "eta")},
        "t_had_pt": "truth_t_had_pt",
        "t_lep_pt": "truth_t_lep_pt",
        "EVENT_ttbar_mass": "truth_ttbar_mass",
    }
    assert keys["ttbar-allhad"] == {"EVENT_ttbar_mass": "truth_ttbar_mass"}
    assert keys["hh-4b"] == {
        "EVENT_hh_mass": "truth_hh_mass",
        "H1_pt": "truth_h1_pt",
        "H2_pt": "truth_h2_pt",
    }
