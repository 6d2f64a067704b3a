"""`srl-pipeline registry list|approve|rollback`: the registered models of the profile's registry.

    srl-pipeline registry list [--species S] [--tier T]       every version, lineage, metrics, cost, status
    srl-pipeline registry approve --species S --tier T --version N [--note TEXT]
    srl-pipeline registry rollback --species S --tier T [--note TEXT]

The registry is the profile's (``registry:`` in ``configs/profiles/<SRL_PROFILE>.yaml``; the
PostgreSQL DSN from ``$SRL_POSTGRES_DSN``). A refused operation (no such version, nothing to roll
back to) prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..core.catalogue import tier_names

EXIT_REFUSED = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="registry_command", required=True)
    ls = sub.add_parser("list", help="every registered version with its lineage, metrics, cost and status")
    ls.add_argument("--species")
    ls.add_argument("--tier", choices=tier_names())
    ap = sub.add_parser("approve", help="approve a version (the newest approved version is production)")
    rb = sub.add_parser("rollback", help="reject the version in production; the previous approved one serves")
    for q in (ap, rb):
        q.add_argument("--species", required=True)
        q.add_argument("--tier", required=True, choices=tier_names())
        q.add_argument("--note", default="")
    ap.add_argument("--version", required=True, type=int)


def profile_registry(profile=None):
    """The registry the profile configures (the same factory the Dagster resource uses)."""
    from ..core.profiles import load_profile
    from ..registry.factory import build_registry

    profile = profile or load_profile()
    section = profile.section("registry")
    local_dir = section.get("local_dir") or str(profile.artifacts_root() / "registry")
    return build_registry(section.get("backend", "local"), local_dir=profile.path(local_dir),
                          postgres_dsn=os.environ.get("SRL_POSTGRES_DSN"), table=section.get("table", "srl_model_registry"),
                          group_prefix=section.get("group_prefix", "srl"), region=section.get("region", "us-east-1"),
                          endpoint_url=section.get("endpoint_url") or None)


def format_versions(registry, species: str | None = None, tier: str | None = None) -> str:
    """The listing: per species and tier, one line per version (production marked) and its lineage."""
    lines = []
    for s, t in registry.groups():
        if (species and s != species) or (tier and t != tier):
            continue
        prod = registry.production(s, t)
        lines.append(f"{s}/{t}: production v{prod.version}" if prod else f"{s}/{t}: nothing in production")
        for v in registry.versions(s, t):
            mark = "*" if prod and v.version == prod.version else " "
            success = v.metrics.get("success_greedy")
            lines.append(
                f" {mark} v{v.version:<3} {v.status:<21} success {'—' if success is None else f'{100 * success:.1f}%'}"
                f"  train {v.cost.get('train_seconds', 0):.0f}s ${v.cost.get('usd', 0):.4f}  adapter {v.adapter_version}"
                f"  {v.created_at}")
            lines.append("        lineage: " + ", ".join(f"{k} {val}" for k, val in sorted(v.lineage.items())))
            lines.append(f"        gate: {v.gate}" + (f"; {v.note}" if v.note else ""))
    return "\n".join(lines) if lines else "no registered models"


def run_registry(args: argparse.Namespace) -> int:
    from ..core.errors import InputError
    from ..registry import RegistryError

    try:
        registry = profile_registry()
        if args.registry_command == "list":
            print(format_versions(registry, args.species, args.tier))
            return 0
        if args.registry_command == "approve":
            v = registry.approve(args.species, args.tier, args.version, args.note or "approved from the CLI")
            print(f"{args.species}/{args.tier} v{v.version}: {v.status}")
        else:
            v = registry.rollback(args.species, args.tier, args.note or "rolled back from the CLI")
            print(f"{args.species}/{args.tier}: production is v{v.version} again")
        prod = registry.production(args.species, args.tier)
        print(f"{args.species}/{args.tier}: production v{prod.version}" if prod else "nothing in production")
        return 0
    except (RegistryError, InputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
