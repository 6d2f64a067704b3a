"""The three-model collaboration that writes verified expert trajectories (no Dagster).

Lore Retriever (A) -> Teacher Planner (B) -> Verifier (C), orchestrated with bounded retries,
regeneration on the verifier's reasons, and a content-addressed cache.
"""
