from __future__ import annotations

import numpy as np
import pytest
import yaml

from hepattn.data import BUILTIN_SCHEMAS, PadSpec, Schema, get_schema, read_events
from hepattn.data.schema import detect_schema
from hepattn.errors import SchemaError
from tests.conftest import SCHEMA


def test_yaml_schema_reads_like_the_dict(toy_file, tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(SCHEMA))
    spec = {"jets": PadSpec(("pt", "btag"), 3)}
    a = read_events(toy_file, path, spec)["jets"]
    b = read_events(toy_file, SCHEMA, spec)["jets"]
    np.testing.assert_array_equal(a.values, b.values)
    assert get_schema(str(path)).name == "toy"


def test_python_schema_round_trips_through_dict():
    for schema in BUILTIN_SCHEMAS.values():
        assert Schema.from_dict(schema.to_dict()) == schema


def test_builtin_schemas_name_the_documented_branches():
    nano = BUILTIN_SCHEMAS["nanoaod"]
    assert {"nJet", "Jet_pt", "Jet_eta", "Jet_phi", "Jet_mass", "Jet_btagDeepFlavB"} <= set(
        nano.branches()
    )
    delphes = BUILTIN_SCHEMAS["delphes"]
    assert {
        "Jet.PT",
        "Jet.Eta",
        "Jet.Phi",
        "Jet.Mass",
        "Jet.BTag",
        "Tower.ET",
        "Tower.Eta",
        "Tower.Phi",
        "Tower.E",
    } <= set(delphes.branches())
    assert {"Jet_Px", "Jet_Py", "Jet_Pz", "Jet_E"} <= set(BUILTIN_SCHEMAS["cartesian"].branches())


def test_detect_schema(hzz_path):
    import uproot

    keys = uproot.open(hzz_path)["events"].keys()
    assert detect_schema("events", keys).name == "cartesian"
    assert detect_schema("other", ["x"]) is None


def test_bad_yaml(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("collections: [1, 2\n")
    with pytest.raises(SchemaError, match="not valid YAML"):
        get_schema(str(p))
    p.write_text(
        yaml.safe_dump({"collections": {"j": {"kinematics": "pxpypze", "branches": {"px": "a"}}}})
    )
    with pytest.raises(SchemaError, match=r"s.yaml: kinematics 'pxpypze' needs branches"):
        get_schema(str(p))
    p.write_text(yaml.safe_dump({"colections": {}}))
    with pytest.raises(SchemaError, match="unknown keys"):
        get_schema(str(p))


def test_optional_event_fields_read_as_nan_where_a_file_lacks_them():
    """m_HH is truth only HH simulation has: a tt̄ (background) file reads with the HH
    schema, its mhh NaN; a signal file keeps its values."""
    from pathlib import Path

    from hepattn.data import PadSpec, read_events
    from hepattn.data.schema import Schema, get_schema
    from hepattn.errors import SchemaError

    samples = Path(__file__).parents[2] / "samples"
    spec = {"jets": PadSpec(("pt",), 8)}
    bkg = read_events(samples / "ttbar_allhad.root", "hepattn-hh4b", spec, entry_stop=20)
    assert np.isnan(bkg.event["mhh"]).all() and len(bkg) == 20
    sig = read_events(samples / "hh4b.root", "hepattn-hh4b", spec, entry_stop=20)
    assert np.isfinite(sig.event["mhh"]).all()
    d = get_schema("hepattn-hh4b").to_dict()
    assert d["optional_event"] == ["mhh"] and Schema.from_dict(d) == get_schema("hepattn-hh4b")
    with pytest.raises(SchemaError, match="optional_event 'm4j' is not an event field"):
        Schema.from_dict({**d, "optional_event": ["m4j"]})
