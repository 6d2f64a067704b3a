"""Data-quality validation of tabular artifacts with Great Expectations (no Dagster)."""
