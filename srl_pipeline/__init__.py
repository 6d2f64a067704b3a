"""srl_pipeline: train in-character NPC models per monster species with SRL -> RLVR."""
