"""Species partitions: dynamic, so a new species appears when its lore appears."""

import dagster as dg

species_partitions = dg.DynamicPartitionsDefinition(name="species")
