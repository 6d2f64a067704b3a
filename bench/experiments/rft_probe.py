"""Probe: the shipped Bronze (SRL->RLVR adapter) fine-tuned by the SFT stage on its own successful plays
(a main run's bronze_traces: the plays the simulator accepted), then greedy test success and decision
accuracy before and after. Rejection-sampled fine-tuning / expert iteration, measured, not built in.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/rft_probe.py <main run>/artifacts vampire 30
"""
import json, sys, time
from pathlib import Path
import torch
torch.set_num_threads(1)
from srl_pipeline.training.job_spec import TrainingJobSpec
from srl_pipeline.training.sft_trainer import run_sft
from srl_pipeline.evaluation.evaluate import EvalSettings, evaluate_model
from srl_pipeline.game.rules import ruleset_from_artifact
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.plan_rollout import PlanTask
A = Path(sys.argv[1]); sp = sys.argv[2]; steps = int(sys.argv[3]); out = A / 'exp' / 'rft' / f'{sp}-{steps}'
data = json.loads((A / 'srl_dataset' / f'{sp}.json').read_text())
traces = json.loads((A / 'bronze_traces' / f'{sp}.json').read_text())['traces']
train = [{'prompt': t['prompt'], 'target': t['completion'].split('</think>\n', 1)[-1].strip(), 'split': 'train',
          'id': t['id'], 'species': sp} for t in traces]
data['examples'] = train + [e for e in data['examples'] if e['split'] != 'train']
ds = out / 'dataset.json'; out.mkdir(parents=True, exist_ok=True); ds.write_text(json.dumps(data))
adapter = str(A / 'rlvr_adapter' / sp); base = str(A / 'base_models' / 'bronze')
spec = TrainingJobSpec('sft', sp, 'bronze', base, str(ds), str(out / 'sft'), str(out / 'ckpt'), initial_adapter=adapter,
                       hyperparameters={'profile': 'local', 'torch_threads': 1}, max_steps=steps, seed=0)
t0 = time.time(); m = run_sft(spec); print('train', round(time.time() - t0, 1), (m.get('selection') or {}).get('curve'), flush=True)
rs = ruleset_from_artifact(data['rules'])
tasks = [PlanTask.from_record(r, rs) for r in data['plan_tasks'] if r['split'] == 'test']
st = [e for e in data['examples'] if e['split'] == 'test']
for name, ad in (('start', adapter), ('rft', str(out / 'sft'))):
    model, tok = load_model(base, ad, 'cpu')
    r = evaluate_model(model, tok, tasks, rs, st, EvalSettings(k=0, batch_size=96, step_examples=32))
    print(name, sp, 'train turns', len(train), 'success', r['success_greedy'], 'decision', r['decision_accuracy'], flush=True)
