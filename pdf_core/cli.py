"""``python -m pdf_core <stage>``: any pipeline stage by hand, exactly as a Snakemake job runs it.

Settings come only from the configuration: ``--params`` (default ``params.yaml``) overlaid by each
``--configfile`` preset, as ``snakemake --configfile`` does. Paths follow the pipeline layout
(:mod:`pdf_core.paths`). Each stage lives in :mod:`pdf_core.stages.<stage>`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach a hub unless the user asks for it
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _add_config_arguments(parser, default) -> None:
    parser.add_argument("--params", default=default, help="params file (default: params.yaml)")
    parser.add_argument(
        "--configfile",
        action="append",
        default=default if default is argparse.SUPPRESS else [],
        help="a preset overlaid on --params as `snakemake --configfile` does (repeatable), e.g. configs/paper.yaml",
    )


def build_parser() -> argparse.ArgumentParser:
    from pdf_core import show_config
    from pdf_core.stages import STAGES, stage_module

    parser = argparse.ArgumentParser(
        prog="python -m pdf_core", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_config_arguments(parser, "params.yaml")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging and full tracebacks")
    sub = parser.add_subparsers(dest="stage", required=True, metavar="<stage>")
    commands = {name.replace("_", "-"): stage_module(name) for name in STAGES}
    commands["show-config"] = show_config
    for name, module in commands.items():
        summary = " ".join(module.__doc__.split("\n\n")[0].split()).split(": ", 1)[-1]
        p = sub.add_parser(name, help=summary, description=module.__doc__)
        p.set_defaults(run=module.run)
        _add_config_arguments(p, argparse.SUPPRESS)  # also accepted after the stage name
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from pdf_core.config import ParamsError, load_params

    try:
        args.run(load_params(args.params, tuple(args.configfile)), args)
    except (ParamsError, OSError, ValueError, RuntimeError) as exc:
        if args.verbose:
            raise
        # one clear line for the user (file/row/key + what to do); --verbose shows the traceback
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
