"""Automation: the jobs over the graph, the lore and rules sensors, and the nightly schedule."""

import dagster as dg

from ...core.profiles import Profile
from .jobs import JOBS
from .schedules import nightly_schedule
from .sensors import lore_change_sensor, rules_change_sensor

defs = dg.Definitions(jobs=JOBS, sensors=[lore_change_sensor, rules_change_sensor], schedules=[nightly_schedule])


def resources(profile: Profile) -> dict:
    return {}
