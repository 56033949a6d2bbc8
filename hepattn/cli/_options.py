"""Arguments several subcommands share, spelled the same everywhere.

- every output path is ``-o/--output`` (older spellings stay as aliases);
- ``--tree`` always names the tree read, ``--output-tree`` the tree written;
- ``--schema`` overrides the schema a model remembers (or the detected one);
- ``--no-progress`` turns the progress bars off (they are off anyway without a terminal);
- ``--nonfinite error|drop``: what to do with objects holding NaN/inf (default: an error);
- ``--domain warn|error|ignore``: inputs outside the model's domain (every command that runs
  a model); ``--btag-default VALUE`` and ``--btag-out-of-range error|drop``: b-tag values
  outside [0, 1] (every command that reads jets with b-tag scores; :func:`btag_policy`);
- :func:`check_outputs`: every command that writes checks all its outputs against all its
  inputs (data files, model files, configs) before any computation;
- :func:`add_friend_outputs`: ``tag``, ``match`` and ``label`` take many inputs, ``-o OUT``
  or ``--output-dir DIR`` (one output per input) and ``--chunk-entries N``.
"""

from __future__ import annotations

import argparse
import os

__all__ = [
    "CHUNK_ENTRIES",
    "add_btag_policy",
    "add_domain",
    "add_vary",
    "btag_policy",
    "vary_options",
    "vary_plot",
    "add_friend_outputs",
    "add_friend_tree",
    "add_nonfinite",
    "add_nonfinite_targets",
    "report_failed",
    "run_each",
    "add_input",
    "add_model",
    "add_output",
    "add_output_tree",
    "add_progress",
    "check_friend_outputs",
    "check_outputs",
    "checked_topology",
    "model_files",
    "positive_int",
]


def add_output(p: argparse.ArgumentParser, help: str, *aliases: str, **kwargs) -> None:
    """``-o/--output`` (and ``aliases``, e.g. ``--out``), stored as ``args.output``."""
    p.add_argument("-o", "--output", *aliases, dest="output", help=help, **kwargs)


def add_input(p: argparse.ArgumentParser, schema_default: str) -> None:
    """``--schema`` and ``--tree`` of the files read."""
    p.add_argument(
        "--schema",
        help=f"schema of the input: a built-in name or a YAML file (default: {schema_default})",
    )
    p.add_argument("--tree", help="tree to read (default: the schema's)")


def add_friend(
    p: argparse.ArgumentParser, flag: str = "--friend", what: str = "input file"
) -> None:
    """``--friend FILE ...``: one friend file per ``what``, in the same order."""
    p.add_argument(
        flag,
        nargs="+",
        metavar="FILE",
        help=f"friend files (e.g. `hepattn label` output), one per {what} in the same order "
        "(a glob resolves sorted) with as many entries; branches the schema reads that the "
        "inputs lack (the labels) come from them. The tree read is the file's only one, else "
        "'labels' or 'hepattn'; FILE:TREE names another",
    )


def add_model(p: argparse.ArgumentParser, task: str) -> None:
    p.add_argument(
        "--model",
        default="default",
        help=f"trained {task} directory, or 'default' for the bundled {task}",
    )


def add_topology(p: argparse.ArgumentParser, model: bool | str = False) -> None:
    """``--topology``: a built-in topology's name or a topology YAML file (``model``: the
    command's model argument, ``--model`` when True: or the name of the topology that model
    stores; default: the model's)."""
    given = "--model" if model is True else model
    by_model = (
        f"; with {given}, also the name of the topology the model was trained for (its "
        "declaration is stored with the model). Default: the model's topology "
        "(ttbar-allhad for the bundled default model)"
        if model
        else " (default: ttbar-allhad)"
    )
    p.add_argument(
        "--topology",
        default=None,
        metavar="NAME|YAML",
        help="event topology: ttbar-allhad, ttbar-ljets, hh-4b, or a topology YAML "
        f"file (see README, 'Declared topologies'){by_model}",
    )


def checked_topology(args: argparse.Namespace) -> str | None:
    """``--topology`` of a matcher command, loaded here (so that a bad name or file fails
    before anything else is read); None when not given."""
    topology = getattr(args, "topology", None)
    if topology is None:
        return None
    from hepattn.topology import TOPOLOGIES, load_topology

    model = getattr(args, "model", "default")
    by_model = model not in (None, "default") and topology not in TOPOLOGIES
    if not (by_model and not os.path.isfile(topology)):  # else: a name the model must store
        load_topology(topology)
    return topology


def add_btag_wp(p: argparse.ArgumentParser) -> None:
    """``--btag-wp``: the working point the baselines cut b-tag scores at."""
    p.add_argument(
        "--btag-wp",
        type=float,
        metavar="VALUE",
        help="b-tag working point of the baselines (chi2, pairing) when the jets carry b-tag "
        "scores: tagged when score > VALUE (default: the file's recorded medium working "
        "point, e.g. 0.8993 for hepattn's samples; NanoAOD DeepJet 2018 medium: 0.2783)",
    )


def add_domain(p: argparse.ArgumentParser) -> None:
    """``--domain warn|error|ignore``: inputs outside the domain the model was trained on."""
    p.add_argument(
        "--domain",
        choices=("warn", "error", "ignore"),
        default="warn",
        help="inputs outside the ranges the model was trained on (each feature, objects per "
        "event, more objects than it reads; its card lists them): count them in one warning "
        "line per quantity (default), stop with an error naming the file and entry, or "
        "ignore them. The counts are also stored in the output",
    )


def add_vary(p: argparse.ArgumentParser) -> None:
    """``--vary NAME`` (repeatable), the sizes of the variations and their files."""
    p.add_argument(
        "--vary",
        action="append",
        metavar="NAME",
        help="also run on inputs varied by NAME (repeatable): jes-up, jes-down (four-momenta "
        "scaled by 1 +- --jes-sigma or the --jes-file's sigma), jer (extra Gaussian smearing by "
        "--jer-sigma), btag-up, btag-down (b-tag scale factors as event weights, --btag-sf), "
        "or all; prints each variation's shift per row and writes it under 'variations' in "
        "the JSON",
    )
    p.add_argument("--jes-sigma", type=float, default=0.03, help="JES variation (default 0.03)")
    p.add_argument(
        "--jes-file",
        metavar="FILE.json",
        help="correctionlib file with the relative JES uncertainty per jet (inputs pt, abseta), "
        "instead of --jes-sigma; jets outside its bins are not varied, and counted",
    )
    p.add_argument(
        "--jes-name", default="jes_sigma", help="the correction in --jes-file (default jes_sigma)"
    )
    p.add_argument(
        "--jer-sigma", type=float, default=0.05, help="JER extra smearing (default 0.05)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the JER smearing (default 0)")
    p.add_argument(
        "--btag-sf",
        metavar="FILE.json",
        help="correctionlib file with the b-tag scale factors (correction --btag-sf-name: "
        "systematic, working_point, flavor, abseta, pt) and the simulation's efficiencies "
        "(--btag-eff-name: working_point, flavor, abseta, pt), as samples/corrections.json",
    )
    p.add_argument("--btag-sf-name", default="btag_sf", help="default btag_sf")
    p.add_argument("--btag-eff-name", default="btag_eff", help="default btag_eff")
    p.add_argument(
        "--btag-sf-wp", default="M", help="the working point name read in --btag-sf (default M)"
    )
    p.add_argument(
        "--btag-flavour",
        metavar="BRANCH",
        help="branch of the jets' truth flavour (5, 4, 0) for --btag-sf (default: the "
        "schema's jets field 'flavour'; NanoAOD: Jet_hadronFlavour)",
    )
    p.add_argument(
        "--vary-plot", metavar="FILE.png", help="also draw the shifts per variation as a PNG"
    )


def vary_options(args: argparse.Namespace):
    """``(names, VaryOptions)`` of ``--vary`` and the sizes (a bad name or file fails at once,
    before anything is read)."""
    from hepattn.tasks.systematics import JesFile, VaryOptions, varied_names

    names = varied_names(args.vary, btag=args.btag_sf is not None)
    btag = jes = None
    if args.btag_sf is not None:
        from hepattn.tasks.btag_weights import BtagScaleFactors

        btag = BtagScaleFactors(
            args.btag_sf, args.btag_sf_name, args.btag_eff_name, args.btag_sf_wp,
            args.btag_flavour,
        )  # fmt: skip
    if args.jes_file is not None:
        jes = JesFile(args.jes_file, args.jes_name)
    return names, VaryOptions(args.jes_sigma, args.jer_sigma, args.seed, jes, btag)


def vary_plot(args: argparse.Namespace, shifts: dict, title: str) -> list:
    """Draw ``--vary-plot`` from ``{variation: shift}`` (the files written)."""
    if not args.vary_plot or not shifts:
        return []
    from hepattn.plotting import shifts_png

    shifts_png(shifts, args.vary_plot, title)
    return [args.vary_plot]


def add_btag_policy(p: argparse.ArgumentParser) -> None:
    """``--btag-default VALUE`` and ``--btag-out-of-range error|drop``."""
    p.add_argument(
        "--btag-default",
        type=float,
        metavar="VALUE",
        help="use VALUE (a score in [0, 1], e.g. 0 = no tag) in place of b-tag default values: "
        "negative whole numbers such as NanoAOD's -1 for jets without b-tag information "
        "(counted in a warning). Without it they are refused like other values outside [0, 1]",
    )
    p.add_argument(
        "--btag-out-of-range",
        choices=("error", "drop", "keep"),
        default="error",
        help="b-tag scores outside [0, 1] (other than replaced defaults): stop with an error "
        "naming the branch (default), drop those jets (counted in a warning), or keep them "
        "as stored (a b-tag discriminant that is no probability, for a model trained on it)",
    )


def btag_policy(args: argparse.Namespace):
    """The :class:`~hepattn.data.btag.BtagPolicy` of ``--btag-default`` and
    ``--btag-out-of-range``."""
    from hepattn.data.btag import BtagPolicy

    return BtagPolicy(
        getattr(args, "btag_default", None), getattr(args, "btag_out_of_range", "error")
    )


def add_weight(p: argparse.ArgumentParser, use: str, default: str) -> None:
    """``--weight FIELD|none``: the event-level schema field with per-event weights."""
    p.add_argument(
        "--weight",
        metavar="FIELD|none",
        help=f"event-level schema field with per-event weights, {use} ({default}; 'none': "
        "unweighted). For NanoAOD map the field to genWeight in your schema (event: {weight: "
        "genWeight}), then --weight weight; negative weights are used with their sign",
    )


def add_output_tree(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--output-tree",
        default="hepattn",
        metavar="NAME",
        help="name of the tree written (default: hepattn)",
    )


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (there is none anyway when stderr is not a terminal)",
    )


def add_nonfinite(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--nonfinite",
        choices=("error", "drop"),
        default="error",
        help="objects with NaN or inf values in the branches read: stop with an error naming "
        "the branch (default), or drop those objects (counted in a warning)",
    )


def add_nonfinite_targets(p: argparse.ArgumentParser) -> None:
    """``--nonfinite-targets mask|error`` (matchers with regressions)."""
    p.add_argument(
        "--nonfinite-targets",
        choices=("mask", "error"),
        default="mask",
        help="regression targets that are NaN or inf: leave those events out of that "
        "regression's loss and metrics, counted in a warning (default), or stop with an error "
        "naming the file, branch and first entry",
    )


#: ``--chunk-entries`` default of ``tag``, ``match`` and ``label`` (that of
#: :data:`hepattn.tasks.friends.DEFAULT_CHUNK_ENTRIES`, not imported: ``--help`` stays fast).
CHUNK_ENTRIES = 50_000


def positive_int(text: str) -> int:
    """An argparse type: an integer ≥ 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_friend_outputs(p: argparse.ArgumentParser, batches: bool = True) -> None:
    """Inputs and outputs of a command that writes friend trees (``tag``, ``match``,
    ``label``): one or more input files or globs, ``-o OUT`` (one tree for all inputs) or
    ``--output-dir DIR`` (one file per input, named as the input), ``--chunk-entries``
    (``batches``: rounded up to whole inference batches)."""
    p.add_argument(
        "input",
        nargs="+",
        help="ROOT file(s) to read: paths, or globs in quotes ('data/*.root')",
    )
    out = p.add_mutually_exclusive_group(required=True)
    add_output(
        out,
        "output ROOT file: one tree for all inputs, entry by entry in their order (a friend "
        "of the input, or of the chain of the inputs)",
    )
    out.add_argument(
        "--output-dir",
        metavar="DIR",
        help="one output per input file, DIR/<the input's file name> (a name not ending in "
        ".root gets .root), each a friend of its input; refused when an output would "
        "replace an input, or two inputs have the same name",
    )
    rounding = (
        " (rounded up to a multiple of 1024, the inference batch, so that the results do "
        "not depend on it)"
        if batches
        else ""
    )
    p.add_argument(
        "--chunk-entries",
        type=positive_int,
        default=CHUNK_ENTRIES,
        metavar="N",
        help="entries read, processed and written at a time, so that memory does not grow "
        f"with the size of a file (default {CHUNK_ENTRIES}){rounding}",
    )


def add_dask(p: argparse.ArgumentParser) -> None:
    """``--dask ADDRESS|local:N`` and ``--skip-bad`` (per-input jobs on Dask workers)."""
    p.add_argument(
        "--dask",
        metavar="ADDRESS|local:N",
        help="with --output-dir, process the input files on Dask workers, one job per file: a "
        "scheduler's address (tcp://host:8786, e.g. from dask-jobqueue) or local:N for N "
        "worker processes here (extra hepattn[dask])",
    )
    p.add_argument(
        "--skip-bad",
        action="store_true",
        help="an input that fails is listed and skipped (its output not written) instead of "
        "failing the command; the other outputs are written either way",
    )


def run_each(work, jobs) -> tuple[list, list]:
    """``work(job)`` for each job in turn (``--skip-bad`` without ``--dask``): the results and
    ``(job, reason)`` of the jobs that failed with a hepattn error."""
    from hepattn.errors import HepattnError

    results, failed = [], []
    for job in jobs:
        try:
            results.append(work(job))
        except HepattnError as err:
            failed.append((job, str(err).splitlines()[0]))
    return results, failed


def report_failed(failed, skip_bad: bool) -> int:
    """The exit of a run whose jobs ``failed`` (``[((inputs, output), reason)]``): 0 when none
    did; with ``skip_bad`` each listed and 0; else a :class:`DataError` naming the first (the
    other outputs are complete)."""
    from hepattn.errors import DataError

    if not failed:
        return 0
    if skip_bad:
        for (inputs, _), reason in failed:
            print(f"skipped {inputs}: {reason}")
        return 0
    (inputs, _), reason = failed[0]
    more = f" ({len(failed) - 1} more inputs failed)" if len(failed) > 1 else ""
    raise DataError(f"{reason}{more}; the other outputs are complete (--skip-bad lists them)")


def check_friend_outputs(args: argparse.Namespace, files=()) -> list:
    """The ``(inputs, output)`` jobs of ``-o`` / ``--output-dir``
    (:func:`hepattn.tasks.friends.friend_jobs`), their outputs checked against the inputs
    and ``files`` and against each other (:func:`check_outputs`) before any computation."""
    from hepattn.tasks.friends import friend_jobs

    jobs = friend_jobs(args.input, args.output, args.output_dir)
    if getattr(args, "dask", None) and args.output_dir is None:
        from hepattn.errors import DataError

        raise DataError("--dask runs one job per input file: give --output-dir DIR, not -o")
    outputs = [(out, "output", False) for _, out in jobs]
    if args.output_dir is not None:
        outputs.insert(0, (args.output_dir, "--output-dir", True))
    check_outputs(args.input, *outputs, files=files)
    return jobs


def add_friend_tree(p: argparse.ArgumentParser, task: str) -> None:
    """What ``tag`` and ``match`` share: the inputs, ``-o`` ROOT file or ``--output-dir``,
    ``--chunk-entries``, the model, the input's schema and tree, the output tree,
    ``--nonfinite``, ``--domain``, ``--no-progress``."""
    add_friend_outputs(p)
    add_dask(p)
    add_model(p, task)
    add_input(p, "the one the model remembers")
    add_output_tree(p)
    add_nonfinite(p)
    add_domain(p)
    add_progress(p)


def model_files(model: str | None, task: str, topology: str | None = None) -> list:
    """The files of the model directory ``--model`` of ``task`` (of a matcher: ``topology``'s
    bundled one for 'default'), inputs of the command."""
    from hepattn.models import resolve_model

    return [f for f in resolve_model(model, task, topology).iterdir() if f.is_file()]


def check_outputs(inputs, *outputs, files=()) -> None:
    """Refuse, before any computation, outputs that would destroy something.

    ``inputs``: data paths or globs the command reads (expanded as the readers do; friends
    as ``FILE:TREE`` count as ``FILE``);
    ``files``: other files it reads (model files, configs); ``outputs``: ``(path, what,
    directory)`` triples, ``path`` None when not asked for. Each output is checked with
    :func:`hepattn.data.outputs.check_output`, and no two outputs may be the same file.
    """
    from pathlib import Path

    from hepattn.data.outputs import check_output
    from hepattn.data.root import friend_file_paths, resolve_paths
    from hepattn.errors import DataError

    read = [*(resolve_paths(friend_file_paths(inputs)) if inputs else []), *map(Path, files)]
    seen: dict[Path, str] = {}
    for path, what, directory in outputs:
        if path is None:
            continue
        out = check_output(path, read, directory=directory, what=what)
        key = out.resolve()
        if key in seen:
            raise DataError(f"{what} {out} is also the {seen[key]}; give two different paths")
        seen[key] = f"{what} {out}"
