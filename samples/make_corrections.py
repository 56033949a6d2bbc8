"""Write ``samples/corrections.json``: an example correctionlib file for our generated samples.

It holds the three corrections ``hepattn compare/eval --vary`` reads
(``hepattn.tasks.btag_weights``, ``hepattn.tasks.systematics``):

- ``btag_eff`` (working_point, flavor, abseta, pt → ε): the b-tag efficiency of *our*
  simulation at the medium working point (score > the files' ``medium``), measured on the
  shipped tt̄ and HH samples per flavour (5, 4, 0) in bins of pT, |η| < 2.5 (the tracker);
- ``btag_sf`` (systematic, working_point, flavor, abseta, pt → SF): illustrative scale factors
  of the size the LHC experiments measure for such taggers at the medium point — b 0.97 ± 0.03,
  c 0.97 ± 0.06 (twice the b uncertainty), light 1.10 ± 0.15 — the same in every pT bin. They
  are not measured: our detector has no data to compare with; the file shows the format;
- ``jes_sigma`` (pt, abseta → relative σ): a JES uncertainty falling with pT, larger forward
  (4 % at 25 GeV to 1.5 % above 500 GeV; × 1.5 for |η| > 2.5), the shape the experiments'
  uncertainties have.

pT beyond the last bin takes the last bin's value (flow ``clamp``); |η| beyond the tracker is
outside ``btag_*`` (flow ``error``: those jets cannot be tagged; hepattn counts them and gives
them the factor 1). Run from the checkout's root: ``python samples/make_corrections.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import correctionlib.schemav2 as cs
import numpy as np
import uproot

HERE = Path(__file__).parent
FILES = ["ttbar_allhad.root", "ttbar_ljets.root", "hh4b.root"]
PT_EDGES = [25.0, 40.0, 60.0, 100.0, 200.0, 500.0]
ETA_MAX = 2.5
FLAVOURS = (5, 4, 0)
SF = {5: (0.97, 0.03), 4: (0.97, 0.06), 0: (1.10, 0.15)}
WP = "M"


def measured_efficiencies() -> dict[int, list[float]]:
    """ε per flavour and pT bin: tagged / all jets with |η| < 2.5 in the shipped samples."""
    tagged = {f: np.zeros(len(PT_EDGES) - 1) for f in FLAVOURS}
    total = {f: np.zeros(len(PT_EDGES) - 1) for f in FLAVOURS}
    for name in FILES:
        with uproot.open(HERE / name) as f:
            medium = json.loads(str(f["btag_working_points"]))["medium"]
            t = f["events"].arrays(["jet_pt", "jet_eta", "jet_flavour", "jet_btag_score"])
        pt, eta = ak.to_numpy(ak.flatten(t.jet_pt)), ak.to_numpy(ak.flatten(t.jet_eta))
        flav = ak.to_numpy(ak.flatten(t.jet_flavour))
        score = ak.to_numpy(ak.flatten(t.jet_btag_score))
        k = np.clip(np.digitize(pt, PT_EDGES) - 1, 0, len(PT_EDGES) - 2)
        inside = np.abs(eta) < ETA_MAX
        for fl in FLAVOURS:
            sel = inside & (flav == fl)
            np.add.at(total[fl], k[sel], 1)
            np.add.at(tagged[fl], k[sel], score[sel] > medium)
    return {
        fl: [round(float(x), 5) for x in tagged[fl] / np.maximum(total[fl], 1)] for fl in FLAVOURS
    }


def _pt_binning(values) -> cs.Binning:
    return cs.Binning(nodetype="binning", input="pt", edges=PT_EDGES, content=values,
                      flow="clamp")  # fmt: skip


def _eta(content) -> cs.Binning:
    return cs.Binning(nodetype="binning", input="abseta", edges=[0.0, ETA_MAX],
                      content=[content], flow="error")  # fmt: skip


def _by_flavour(node) -> cs.Category:
    items = [cs.CategoryItem(key=fl, value=node(fl)) for fl in FLAVOURS]
    return cs.Category(nodetype="category", input="flavor", content=items)


def _wp(node) -> cs.Category:
    return cs.Category(nodetype="category", input="working_point",
                       content=[cs.CategoryItem(key=WP, value=node)])  # fmt: skip


def main() -> None:
    eff = measured_efficiencies()
    n = len(PT_EDGES) - 1
    real = [cs.Variable(name="abseta", type="real"), cs.Variable(name="pt", type="real")]
    btag_eff = cs.Correction(
        name="btag_eff",
        description="b-tag efficiency of hepattn's generated samples at the medium working "
        "point, per hadron flavour, measured on samples/{" + ",".join(FILES) + "}",
        version=1,
        inputs=[
            cs.Variable(name="working_point", type="string"),
            cs.Variable(name="flavor", type="int"),
            *real,
        ],  # fmt: skip
        output=cs.Variable(name="efficiency", type="real"),
        data=_wp(_by_flavour(lambda fl: _eta(_pt_binning(eff[fl])))),
    )
    systs = {"central": 0.0, "up": 1.0, "down": -1.0}
    btag_sf = cs.Correction(
        name="btag_sf",
        description="ILLUSTRATIVE b-tag scale factors (not measured) at the medium working "
        "point: b 0.97+-0.03, c 0.97+-0.06, light 1.10+-0.15",
        version=1,
        inputs=[
            cs.Variable(name="systematic", type="string"),
            cs.Variable(name="working_point", type="string"),
            cs.Variable(name="flavor", type="int"),
            *real,
        ],  # fmt: skip
        output=cs.Variable(name="scale_factor", type="real"),
        data=cs.Category(
            nodetype="category",
            input="systematic",
            content=[
                cs.CategoryItem(
                    key=s,
                    value=_wp(
                        _by_flavour(
                            lambda fl, z=z: _eta(_pt_binning([SF[fl][0] + z * SF[fl][1]] * n))
                        )
                    ),
                )  # fmt: skip
                for s, z in systs.items()
            ],
        ),
    )
    jes = cs.Correction(
        name="jes_sigma",
        description="illustrative relative jet energy scale uncertainty (one sigma)",
        version=1,
        inputs=real,
        output=cs.Variable(name="sigma", type="real"),
        data=cs.MultiBinning(
            nodetype="multibinning",
            inputs=["abseta", "pt"],
            edges=[[0.0, 2.5, 5.0], [25.0, 50.0, 100.0, 250.0, 500.0, 1e4]],
            content=[0.04, 0.03, 0.022, 0.018, 0.015, 0.06, 0.045, 0.033, 0.027, 0.0225],
            flow="clamp",
        ),
    )
    cset = cs.CorrectionSet(schema_version=2, corrections=[btag_sf, btag_eff, jes])
    out = HERE / "corrections.json"
    out.write_text(cset.model_dump_json(indent=1, exclude_unset=True) + "\n")
    print(f"wrote {out}: efficiencies {eff}")


if __name__ == "__main__":
    main()
