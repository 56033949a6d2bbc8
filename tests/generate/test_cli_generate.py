"""`hepattn generate` on the command line."""

from __future__ import annotations

import json

import awkward as ak
import pytest
import uproot

from hepattn.cli import main


def test_generate_ttbar_cli_with_plots(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    pytest.importorskip("matplotlib")
    out = tmp_path / "tt.root"
    argv = ["generate", "ttbar", "-n", "12", "--seed", "3", "--jobs", "1", "-o", str(out)]
    summary = tmp_path / "summary.json"
    assert main([*argv, "--plots", str(tmp_path / "plots"), "--json", str(summary)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "truth-matched peaks" in printed
    assert "FastJet release" not in printed.split("wrote")[-1]  # no banner after the summary
    data = json.loads(summary.read_text())
    assert data["entries"] == 12 and data["generated_events"] >= 12 and data["cpu_s"] > 0
    assert data["summary"]["events"] == 12
    with uproot.open(out) as f:
        assert f["events"].num_entries == 12 and str(f["seed"]) == "3"
    assert (tmp_path / "plots" / "ttbar_njet.png").exists()
    assert (tmp_path / "plots" / "ttbar_masses.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["prongs", "--classes", "2,5"], "unknown prong class"),
        (["prongs", "-n", "0"], "must be positive"),
        (["ttbar", "-n", "-3"], "must be positive"),
        (["ttbar", "-n", "5", "--jobs", "0"], "--jobs"),
        (["ttbar", "-n", "5", "--detector", "none"], "prong samples only"),
        (["hh4b", "-n", "5", "--detector", "none"], "prong samples only"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, capsys, argv, message):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    out = tmp_path / "x.root"
    assert main(["generate", *argv, "-o", str(out)]) == 1
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_prongs_cli_plain_uniform_table(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    out = tmp_path / "pr.root"
    argv = ["generate", "prongs", "-n", "3", "--classes", "2", "--jobs", "1", "-o", str(out)]
    assert main([*argv, "--plain", "--detector", "uniform"]) == 0
    printed = capsys.readouterr().out
    assert "class" in printed and "contained" in printed and "towers" in printed
    with uproot.open(out) as f:
        assert str(f["detector"]) == "uniform" and f["jets"].num_entries == 3


def test_interrupt_tells_how_to_resume(tmp_path, capsys, monkeypatch):
    from hepattn.generate import ttbar

    def interrupted(config, chunk):
        raise KeyboardInterrupt

    monkeypatch.setattr(ttbar, "generate_chunk", interrupted)
    out = tmp_path / "tt.root"
    assert main(["generate", "ttbar", "-n", "5", "--jobs", "1", "-o", str(out)]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert not out.exists()


def test_generate_ttbar_ljets_cli(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    out, summary = tmp_path / "lj.root", tmp_path / "lj.json"
    argv = ["generate", "ttbar", "--channel", "ljets", "-n", "8", "--seed", "2", "--jobs", "1"]
    argv += ["--chunk-size", "4", "-o", str(out), "--json", str(summary), "--no-progress"]
    assert main([*argv, "--plots", str(tmp_path / "plots")]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "wrote" in printed and "lepton from the W" in printed and "median MET" in printed
    assert "--plots" in captured.err and "none written" in captured.err  # not silently ignored
    data = json.loads(summary.read_text())
    assert data["entries"] == 8 and data["summary"]["events"] == 8
    assert 0 <= data["summary"]["frac_electron"] <= 1
    with uproot.open(out) as f:
        assert str(f["topology"]) == "ttbar-ljets" and f["events"].num_entries == 8
        assert {"lepton_pt", "met_pt", "met_phi"} <= set(f["events"].keys())


def test_generate_hh4b_cli(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    out = tmp_path / "hh.root"
    argv = ["generate", "hh4b", "-n", "6", "--seed", "2", "--jobs", "1", "-o", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "m_HH 10/50/90 %" in printed
    with uproot.open(out) as f:
        assert str(f["topology"]) == "hh-4b" and f["events"].num_entries == 6
        assert ak.all(f["events"]["nparton"].array() == 4)
    assert main(["generate", "hh4b", "-n", "0", "-o", str(tmp_path / "x.root")]) == 1
    assert "must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "ttbar", "--channel", "dilep", "-o", str(tmp_path / "y.root")])
    assert "invalid choice: 'dilep'" in capsys.readouterr().err
