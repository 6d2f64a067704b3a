"""Evaluation resources: how models are evaluated on the held-out test split."""

import dagster as dg


class EvaluationSettings(dg.ConfigurableResource):
    """How models are evaluated on the held-out test split (profile: evaluation)."""

    k: int = 4                       # sampled plans per scenario for avg@k
    temperature: float = 1.0
    max_steps: int = 8               # turns per plan
    max_new_tokens: int = 96
    batch_size: int = 32
    step_examples: int = 64          # test-split SRL examples scored for step similarity
    seed: int = 0
    kl_bound: float = 0.1            # the quality target for the evaluated models' KL to the base

    def settings(self):
        from ...evaluation.evaluate import EvalSettings

        return EvalSettings(k=self.k, temperature=self.temperature, max_steps=self.max_steps,
                            max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                            step_examples=self.step_examples, seed=self.seed)
