"""Schedules: the nightly run of the whole graph for every species (off until turned on)."""

import dagster as dg

from ..partitions import species_partitions
from .jobs import main_job


@dg.schedule(job=main_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED,
             description="Nightly: the whole graph for every species (turn on in the UI).")
def nightly_schedule(context: dg.ScheduleEvaluationContext):
    species = context.instance.get_dynamic_partitions(species_partitions.name)
    date = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(run_key=f"nightly:{date}:{s}", partition_key=s, tags={"trigger": "nightly"}) for s in species]
