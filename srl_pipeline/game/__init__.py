"""The built-in game: lore, rules, the simulator, the step format and scenarios (no Dagster)."""
