"""Does the step's call play the move the think names? Greedy turns on 48 test-split SRL examples:
the share whose think's "I will X" equals the call's action, and how often each is the expert's.

  PYTHONPATH=. OMP_NUM_THREADS=1 python bench/experiments/think_call.py <species> [adapter]
"""
import json, re, sys, torch
torch.set_num_threads(1)
from srl_pipeline.training.base_models import load_model
from srl_pipeline.training.generation import generate_steps
sp, ad = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else None)
d = json.load(open(f'artifacts/srl_dataset/{sp}.json'))
ex = [e for e in d['examples'] if e['split'] == 'test'][:48]
m, t = load_model('artifacts/base_exp/b800/bronze', ad, device='cpu')
outs = generate_steps(m, t, [e['prompt'] for e in ex], max_new_tokens=128, batch_size=16, chat=False)
n = match = think_right = call_right = 0
for e, (o, _) in zip(ex, outs):
    th = re.search(r"I will ([a-z_]+)", o); ca = re.search(r"\*\*[^*]*\*\* ([a-z_]+)\(", o)
    if not (th and ca):
        continue
    exp = e['target'].split('** ', 1)[1].split('(')[0]
    n += 1; match += th.group(1) == ca.group(1); think_right += th.group(1) == exp; call_right += ca.group(1) == exp
print(json.dumps({"species": sp, "adapter": ad, "parsed": n, "of": len(ex), "think_equals_call": round(match / n, 3),
                  "think_is_expert": round(think_right / n, 3), "call_is_expert": round(call_right / n, 3)}))
