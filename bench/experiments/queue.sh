#!/bin/bash
# Runs the experiment lines of bench/experiments/queue.txt one at a time (each line: args of run_exp.py).
cd /work/wt-exp
while true; do
  line=$(head -1 bench/experiments/queue.txt 2>/dev/null)
  [ -z "$line" ] && { sleep 10; [ -f bench/experiments/queue.stop ] && exit 0; continue; }
  sed -i 1d bench/experiments/queue.txt
  tag=$(echo "$line" | sed -E 's/.*--tag ([^ ]+).*/\1/'); sp=$(echo "$line" | sed -E 's/.*--species ([^ ]+).*/\1/')
  echo "$(date -u +%T) START $line" >> logs/queue.log
  if [[ "$line" == BUILD* ]]; then
    eval PYTHONPATH=/work/wt-exp OMP_NUM_THREADS=1 /work/main/.venv/bin/python bench/experiments/build_base.py ${line#BUILD} >> logs/build_base.log 2>&1
  else
    eval PYTHONPATH=/work/wt-exp OMP_NUM_THREADS=1 /work/main/.venv/bin/python bench/experiments/run_exp.py $line > logs/exp_${tag}_${sp}.log 2>&1
  fi
  echo "$(date -u +%T) END rc=$? $tag $sp" >> logs/queue.log
done
