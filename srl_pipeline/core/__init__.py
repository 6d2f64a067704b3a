"""What the whole project shares and that needs no Dagster (DESIGN.md §7)."""
