"""Training: datasets, rewards, trainers and the entrypoint (no Dagster)."""
