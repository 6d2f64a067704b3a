"""The token budget of one NPC turn (think + step line), the default of every place that generates one.

A turn of the built-in tiers runs to 100 tokens: the ghoul base lists its long menu in its think.
At 96 tokens, 9 of ghoul's 18 greedy test plans ended in a format error because the turn was cut
off; at 128, none (EXPERIMENTS.md, "128 tokens per turn"). Generation stops at the end of the
step line (:mod:`srl_pipeline.training.generation`), so the budget costs nothing on a short turn.
The YAML profiles set their own value (``evaluation.max_new_tokens``, the stages'
``max_completion_length`` / ``validation_max_new_tokens``); this is the default when they do not.
"""

TURN_TOKENS = 128

__all__ = ["TURN_TOKENS"]
