"""Schedules: the nightly cascade for every species (bronze_traces -> Silver -> Gold -> evaluation
-> registration), on by default where the profile says so (``automation.nightly_cascade``: the
deployment's aws profile) and off in the local one (turn it on in the UI)."""

import dagster as dg

from ..partitions import species_partitions
from .jobs import cascade_job


def build_nightly_schedule(enabled: bool) -> dg.ScheduleDefinition:
    """The nightly cascade schedule; ``enabled`` is its default status (the UI can still change it)."""
    status = dg.DefaultScheduleStatus.RUNNING if enabled else dg.DefaultScheduleStatus.STOPPED

    @dg.schedule(name="nightly_schedule", job=cascade_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
                 default_status=status,
                 description="Nightly at 03:00 UTC: the distillation cascade, evaluation and registration for every "
                             "species; a failed Bronze leaves Silver and Gold distilling from the last registered one.")
    def nightly_schedule(context: dg.ScheduleEvaluationContext):
        species = context.instance.get_dynamic_partitions(species_partitions.name)
        date = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return [dg.RunRequest(run_key=f"nightly:{date}:{s}", partition_key=s, tags={"trigger": "nightly"})
                for s in species]

    return nightly_schedule


nightly_schedule = build_nightly_schedule(enabled=False)
