"""How far a matcher's probabilities can be trusted, measured on labelled events.

:func:`calibration_report` runs a :class:`~hepattn.tasks.matching.Matcher` and its topology's
baseline on the same events and measures, per resonance, the reliability of

- the **assignment probability** of the chosen jets (``prob``, ``R_prob``): over the events
  where the true resonance it is paired with is reconstructable, against whether the chosen
  jets are right (it is a probability *given* the resonance is there);
- the **detection probability** (``R_detection``): over all events with enough jets, against
  whether the resonance is reconstructable;

(reliability diagrams and ECE, :mod:`hepattn.metrics.calibration`), and the purity against
efficiency of cutting on the event's probabilities — the product of the assignment
probabilities, and that times the detection probabilities — beside cutting on the baseline's
score (χ² or D_HH, smaller kept first). ``hepattn eval matcher … --calibration DIR`` writes it
(:func:`write_calibration`): ``calibration.json``, ``reliability_<R>.png``, ``purity.png``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hepattn.data import Events
from hepattn.data.outputs import write_json
from hepattn.metrics.calibration import outcomes, purity_curve, reliability
from hepattn.metrics.matching import resonance_correct

__all__ = [
    "CALIBRATION_FILE",
    "calibrate",
    "calibration_report",
    "fit_calibration",
    "load_calibration",
    "save_calibration",
    "write_calibration",
]

#: The diagrams of one resonance, in the order drawn.
DIAGRAMS = ("assignment_raw", "assignment", "detection_raw", "detection")


def calibration_report(
    matcher,
    ev: Events,
    progress: bool = False,
    btag_wp: float | None = None,
    chi2_mode: str | None = None,
) -> dict:
    """The reliability of the matcher's probabilities and the purity curves on labelled
    events ``ev`` (module doc): ``{"model", "calibrated", "topology", "events", "resonances":
    {R: {"assignment": reliability, "detection": reliability | None}}, "purity": {curve name:
    purity_curve}}`` — of the probabilities ``match`` writes (through the model's stored
    calibration where it has one; then also ``assignment_raw``, ``detection_raw``)."""
    topo = matcher.topology
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    slots, raw_prob, raw_det = matcher.predict(ev, progress=progress, calibrated=False)
    prob, det = raw_prob, raw_det
    if matcher.calibration is not None:
        prob, det = calibrate(matcher.calibration, topo, raw_prob, raw_det, n_jets)
    enough = n_jets >= topo.n_jet_daughters
    correct, present = outcomes(slots, truth, topo)
    resonances = {}
    for r, res in enumerate(topo.resonances):
        sel = present[:, r] & np.isfinite(prob[:, r])
        out = {
            "assignment": reliability(prob[sel, r], correct[sel, r]),
            "detection": None if det is None else reliability(det[enough, r], present[enough, r]),
        }
        if matcher.calibration is not None:  # what the network gives before the maps
            out["assignment_raw"] = reliability(raw_prob[sel, r], correct[sel, r])
            out["detection_raw"] = (
                None if det is None else reliability(raw_det[enough, r], present[enough, r])
            )
        resonances[res.name] = out
    event_ok = resonance_correct(slots, truth, topo).all(axis=1)
    assign = np.nan_to_num(np.prod(prob, axis=1), nan=0.0)
    base, result = matcher.baseline(ev, btag_wp, chi2_mode, progress)
    base_ok = resonance_correct(result.slots, truth, topo).all(axis=1)
    purity = {"network: Π assignment": purity_curve(assign, event_ok)}
    if det is not None:
        full = assign * np.prod(det, axis=1)
        purity["network: Π assignment × detection"] = purity_curve(full, event_ok)
    purity[f"{base.method}: score (smaller kept first)"] = purity_curve(-result.score, base_ok)
    return {
        "model": str(matcher.path),
        "calibrated": matcher.calibration is not None,
        "topology": topo.name,
        "events": len(ev),
        "files": ev.files,
        "resonances": resonances,
        "purity": purity,
        "baseline": result.description,
    }


def write_calibration(report: dict, out_dir: str | Path) -> list[Path]:
    """``calibration.json``, one ``reliability_<R>.png`` per resonance (assignment and
    detection) and ``purity.png`` in ``out_dir``; returns the paths."""
    from hepattn.plotting import purity_png, reliability_png

    out = Path(out_dir)
    written = [write_json(out / "calibration.json", report)]
    for name, r in report["resonances"].items():
        diagrams = {k: r[k] for k in DIAGRAMS if r.get(k) is not None}
        path = out / f"reliability_{name}.png"
        reliability_png(diagrams, path, f"{report['topology']} {name}: {report['events']:,} events")
        written.append(path)
    path = out / "purity.png"
    purity_png(report["purity"], path, f"{report['topology']}: cutting on the event's score")
    return [*written, path]


#: The calibration record of a model directory.
CALIBRATION_FILE = "calibration_map.json"


#: A jet-multiplicity row gets its own map when it holds at least this many fitting values
#: (else the map of all rows).
ROW_MIN = 300


def jet_thresholds(topology) -> list[int]:
    """The jet-multiplicity rows of the maps (those of the efficiency tables): fewer than n
    jet daughters, n, n + 1, ≥ n + 2 — row ``k`` = thresholds ≤ n_jets."""
    n = topology.n_jet_daughters
    return [n, n + 1, n + 2]


def jet_row(n_jets: np.ndarray, thresholds: list[int]) -> np.ndarray:
    """``int[B]``: each event's row (the number of ``thresholds`` ≤ its jets)."""
    return np.searchsorted(np.asarray(thresholds), np.asarray(n_jets), side="right")


def _fit_rows(p: np.ndarray, o: np.ndarray, rows: np.ndarray, n_rows: int) -> dict:
    """One map per jet-multiplicity row (the all-rows map where a row is small)."""
    from hepattn.metrics.calibration import choose_map

    overall = {**choose_map(p, o), "values": len(p)}
    per_row = []
    for k in range(n_rows):
        sel = rows == k
        per_row.append({**choose_map(p[sel], o[sel]), "values": int(sel.sum())}
                       if sel.sum() >= ROW_MIN else overall)  # fmt: skip
    return {**overall, "rows": per_row}


def fit_calibration(matcher, ev: Events, progress: bool = False, source: str = "") -> dict:
    """Maps of each resonance's assignment and detection probability, one per
    jet-multiplicity row (:func:`jet_thresholds`; the calibration differs with the number of
    jets, e.g. where only one top can be complete), each the identity, Platt or isotonic as
    chosen by cross-validation (:func:`~hepattn.metrics.calibration.choose_map`), fitted on
    the labelled events ``ev`` (validation events, never test events) as
    :func:`calibration_report` measures them; the record :func:`save_calibration` writes."""
    topo = matcher.topology
    truth, n_jets = ev.derived["truth"], ev.derived["n_jets"]
    slots, prob, det = matcher.predict(ev, progress=progress, calibrated=False)
    enough = n_jets >= topo.n_jet_daughters
    correct, present = outcomes(slots, truth, topo)
    thresholds = jet_thresholds(topo)
    rows = jet_row(n_jets, thresholds)
    n_rows = len(thresholds) + 1
    maps: dict[str, dict] = {}
    for r, res in enumerate(topo.resonances):  # decoding orders them: one map each
        sel = present[:, r] & np.isfinite(prob[:, r])
        maps[res.name] = {"assignment": _fit_rows(prob[sel, r], correct[sel, r], rows[sel], n_rows)}
        if det is not None:
            p, o = det[enough, r], present[enough, r]
            maps[res.name]["detection"] = _fit_rows(p, o, rows[enough], n_rows)
    return {
        "fitted_on": source or ", ".join(ev.files),
        "jet_thresholds": thresholds,
        "resonances": maps,
    }


def save_calibration(matcher, record: dict) -> Path:
    """Write ``record`` into the matcher's directory, bound to its weights (their SHA-256),
    and use it from now on."""
    from hepattn.models import WEIGHTS, file_sha256

    record = {**record, "weights_sha256": file_sha256(matcher.path / WEIGHTS)}
    path = write_json(matcher.path / CALIBRATION_FILE, record)
    matcher.calibration = record
    return path


def load_calibration(directory: Path) -> dict | None:
    """The calibration record of a model directory, None if it has none; a record whose
    weights hash is not that of the directory's weights is refused (a :class:`ModelError`)."""
    import json

    from hepattn.models import WEIGHTS, ModelError, file_sha256

    path = Path(directory) / CALIBRATION_FILE
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
        want = record["weights_sha256"]
        maps = record["resonances"]
        if len(record["jet_thresholds"]) + 1 != len(
            next(iter(next(iter(maps.values())).values()))["rows"]
        ):
            raise ValueError("one map per jet-multiplicity row is needed")
        for r in maps.values():
            for kind in r.values():
                for m in kind["rows"]:
                    if len(m["x"]) != len(m["y"]) or not m["x"]:
                        raise ValueError("knots x and y differ in length")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ModelError(f"{path}: not a calibration record ({err})") from None
    if want != file_sha256(Path(directory) / WEIGHTS):
        raise ModelError(
            f"{path} was fitted for other weights than {Path(directory) / WEIGHTS} (SHA-256 "
            "differs): it does not belong to this model; refit it or remove it"
        )
    return record


def calibrate(record: dict, topology, prob: np.ndarray, det: np.ndarray | None, n_jets: np.ndarray):
    """``(prob, det)`` through the record's maps, each event by its jet-multiplicity row
    (resonances without a map unchanged)."""
    from hepattn.metrics.calibration import apply_isotonic

    prob = prob.copy()
    det = None if det is None else det.copy()
    rows = jet_row(n_jets, record["jet_thresholds"])
    for r, res in enumerate(topology.resonances):
        maps = record["resonances"].get(res.name, {})
        for kind, values in (("assignment", prob), ("detection", det)):
            if values is None or kind not in maps:
                continue
            for k, m in enumerate(maps[kind]["rows"]):
                sel = rows == k
                values[sel, r] = apply_isotonic(values[sel, r], m["x"], m["y"])
    return prob, det
