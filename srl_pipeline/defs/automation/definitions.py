"""Automation: the jobs over the graph, the lore and rules sensors, and the nightly schedule."""

import dagster as dg

from ...core.profiles import Profile
from .jobs import JOBS
from .schedules import build_nightly_schedule
from .sensors import lore_change_sensor, rules_change_sensor


def defs_for(profile: Profile | None) -> dg.Definitions:
    """The automation of a profile: the nightly cascade on by default where it says so."""
    enabled = bool(profile.section("automation").get("nightly_cascade", False)) if profile is not None else False
    return dg.Definitions(jobs=JOBS, sensors=[lore_change_sensor, rules_change_sensor],
                          schedules=[build_nightly_schedule(enabled)])


defs = defs_for(None)


def resources(profile: Profile) -> dict:
    return {}
