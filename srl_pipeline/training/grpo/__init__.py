"""GRPO machinery shared by the SRL and RLVR stages: dynamic sampling, KL control, the trainer."""
