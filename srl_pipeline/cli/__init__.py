"""`srl-pipeline`: the command line of the project.

    srl-pipeline main      materialise every asset for every species (the embedded default)
    srl-pipeline species   list the species the lore source knows
    srl-pipeline eval      evaluate a species' model on your own scenario file (JSONL)
    srl-pipeline registry  list the registered models; approve a version; roll back production
"""

from __future__ import annotations

import argparse
import sys

from ..core.console import is_verbose, quiet_third_party, set_verbose
from .eval_command import add_arguments as add_eval_arguments
from .registry_command import add_arguments as add_registry_arguments


def quiet_console(verbose: bool) -> None:
    """Third-party warnings and progress bars off (inherited by the training subprocesses) unless
    ``--verbose`` or ``$SRL_VERBOSE``; Dagster's notices about beta/preview APIs too."""
    if verbose:
        set_verbose(True)
    if is_verbose():
        return
    import warnings

    quiet_third_party()
    import dagster as dg

    for category in (dg.BetaWarning, dg.PreviewWarning):
        warnings.filterwarnings("ignore", category=category)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="srl-pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("main", help="materialise every asset for every species")
    m.add_argument("--species", nargs="*", help="only these species (default: all)")
    m.add_argument("--parallel", type=int, default=None,
                   help="species trained side by side (default $SRL_PARALLEL_SPECIES or 2)")
    m.add_argument("--no-experiments", action="store_true",
                   help="skip the paper's baselines (SFT, RLVR-only) and the report")
    m.add_argument("--verbose", action="store_true",
                   help="show everything on the console: Dagster's DEBUG events, the libraries' warnings and progress bars")
    sub.add_parser("species", help="list the species the lore source knows")

    e = sub.add_parser("eval", help="evaluate a species' model on your own scenario file (JSONL)")
    add_eval_arguments(e)
    r = sub.add_parser("registry", help="list the registered models; approve a version; roll back production")
    add_registry_arguments(r)
    args = ap.parse_args(argv)
    quiet_console(getattr(args, "verbose", False))
    if args.command == "main":
        from .main_command import run_main

        return run_main(args.species, args.parallel, experiments=not args.no_experiments)
    if args.command == "registry":
        from .registry_command import run_registry

        return run_registry(args)
    if args.command == "eval":
        from .eval_command import run_eval

        return run_eval(args)
    from ..definitions import defs

    print("\n".join(defs.resources["game_data"].lore_source().list_species()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
