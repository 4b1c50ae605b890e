#!/usr/bin/env bash
# The GPU check: one script, at most about 8 minutes on one CUDA GPU, printing one table.
#
#     bash evals/gpu_check.sh            # logs under $OUT (default /tmp/gpu_check)
#
# The device machine gets the working tree without git history: before sending it, write the
# engine that bench_long compares against beside this script (untracked files travel):
#     git show f0c13f2:reasoning/generation/engine.py > evals/engine_before_paging.py
#
# 1. the paged-cache tests on the GPU (equivalence under preemption, sharing, the compiled
#    step under CUDA graphs against eager);
# 2. decode speed of the 0.6B shape (random weights, bf16) against transformers in the same
#    run: single stream and 16 ragged requests, eager, then compiled (CUDA graphs);
# 3. the paged engine against the row engine on long generations (bench_long, 0.6B shape);
# 4. one GRPO step (bench_grpo);
# 5. peak memory of one SFT step, full fine-tuning against LoRA (bench_train_memory).
# Each part has its own time limit, so one that hangs costs only its share.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}

part() {  # part NAME SECONDS COMMAND...: run, log to $OUT/NAME.log, remember the exit status
    local name=$1 seconds=$2
    shift 2
    echo "== $name: $*" >&2
    timeout "$seconds" "$@" >"$OUT/$name.log" 2>&1
    echo $? >"$OUT/$name.rc"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >"$OUT/gpu.txt" 2>&1
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" >>"$OUT/gpu.txt" 2>&1

part tests 120 env REASONING_TEST_DEVICE=cuda $PY -m pytest -q -p no:cacheprovider -m "" tests/test_generation_engine.py
part eager 90 $PY evals/bench_generation.py --device cuda --repeats 3
part graphs 110 $PY evals/bench_generation.py --device cuda --repeats 3 --compile
old_engine=()
[ -f evals/engine_before_paging.py ] && old_engine=(--old-engine evals/engine_before_paging.py)
part long 120 $PY evals/bench_long.py --device cuda --preset 0.6B --dtype bfloat16 --requests 32 --median 300 --sigma 0.6 --budget 1024 "${old_engine[@]}"
part grpo 60 $PY evals/bench_grpo.py --device cuda --skip-reference --repeats 1
part memory 60 $PY evals/bench_train_memory.py --device cuda

echo
echo "GPU check, $(date -u +%Y-%m-%d), $(head -1 "$OUT/gpu.txt"); $(sed -n 2p "$OUT/gpu.txt")"
echo
echo "| part | exit | result |"
echo "|---|---|---|"
for name in tests eager graphs long grpo memory; do
    case $name in
        tests) result=$(tail -1 "$OUT/tests.log") ;;
        eager | graphs) result=$(grep -E "tok/s|ratio" "$OUT/$name.log" | tr '\n' ' ' | cut -c1-300) ;;
        long) result=$(grep -E "tokens/s|ratio" "$OUT/long.log" | tr '\n' ' ' | cut -c1-300) ;;
        grpo) result=$(grep -E "step|s/step|seconds" "$OUT/grpo.log" | tail -2 | tr '\n' ' ' | cut -c1-300) ;;
        memory) result=$(grep -E "^(full|LoRA)" "$OUT/memory.log" | tr -s ' ' | tr '\n' ';' | cut -c1-300) ;;
    esac
    echo "| $name | $(cat "$OUT/$name.rc") | ${result:-see $OUT/$name.log} |"
done
