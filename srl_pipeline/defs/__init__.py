"""The Dagster layer: thin assets, checks, resources, sensors and schedules over the domain code."""
