"""The turn-contract ablation: the same experiment scripts with the observation taken out of every
prompt (no ``State now:`` and no ``Last step changed:`` line; goal, lore, steps so far and the
``Moves now:`` menu stay), in the warm-up, the SRL examples, the rollouts and the evaluation alike.

Run it in a copy of the project with its own ``artifacts/`` and ``DAGSTER_HOME`` (it rebuilds the
data and the base there):

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/ablate_contract.py build_base.py --steps 800 --name nostate800
  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/ablate_contract.py build_data.py vampire
  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/ablate_contract.py run_exp.py --species vampire --tag nostate ...
"""
import runpy
import sys
from pathlib import Path

import srl_pipeline.game.turn as turn
import srl_pipeline.training.plan_rollout as plan_rollout
import srl_pipeline.training.warmup_corpus as warmup_corpus

_full_contract = turn.turn_prompt
_DROPPED = ("State now: ", "Last step changed: ")


def turn_prompt_without_observation(*args, **kwargs) -> str:
    """The turn contract minus the current state and what the last step changed."""
    return "\n".join(line for line in _full_contract(*args, **kwargs).split("\n") if not line.startswith(_DROPPED))


turn.turn_prompt = turn_prompt_without_observation          # scenario_turn_prompt (SRL examples) calls it
plan_rollout.turn_prompt = turn_prompt_without_observation  # live rollouts (RLVR, evaluation)
warmup_corpus.turn_prompt = turn_prompt_without_observation  # the built-in base's warm-up

script, sys.argv = sys.argv[1], sys.argv[1:]
runpy.run_path(str(Path(__file__).with_name(script)), run_name="__main__")
