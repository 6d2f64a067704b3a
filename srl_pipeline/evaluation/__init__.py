"""Evaluation of the species' models (DESIGN.md §5), no Dagster:

- :mod:`.evaluate`: the driver (:func:`~.evaluate.evaluate_model`, :func:`~.evaluate.evaluate_models`,
  :class:`~.evaluate.EvalSettings`): full plans on held-out scenarios, step similarity, KL;
- :mod:`.metrics`: the counting, pure (summaries of rollouts and of step completions);
- :mod:`.kl`: the exact per-token KL to a reference model;
- :mod:`.report`: the markdown table and the experiment report;
- :mod:`.plots`: the comparison plot and a training job's curves, as PNG bytes.

Models are loaded by :func:`srl_pipeline.training.base_models.load_model`; tiers and models are
named by :mod:`srl_pipeline.core.catalogue`.
"""
