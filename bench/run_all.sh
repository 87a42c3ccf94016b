#!/usr/bin/env bash
# PyTorch's reference and dl-lab's engine measured back to back, RUNS times, then the shared report and the
# per-run ratios, all under bench/results/.
#
#   bench/run_all.sh [RUNS] [THREADS] [more options for both scripts, e.g. --workloads cnn-mnist,cnn-cifar]
#
# TORCH_PYTHON (default .venv-torch/bin/python) runs torch_ref.py; PYTHON (default .venv/bin/python) runs
# the engine; DL_LAB_BENCH_SHARED (default ../shared/bench) holds the shared harness. The two alternate which
# goes first, so that a machine slowing down during a run does not always penalise the same side.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=${DL_LAB_BENCH_SHARED:-$repo/../shared/bench}
torch_py=${TORCH_PYTHON:-.venv-torch/bin/python}
py=${PYTHON:-$repo/.venv/bin/python}
runs=${1:-3}
threads=${2:-2}
shift $(($# < 2 ? $# : 2))
out=$here/results
mkdir -p "$out"
stamp=$(date +%Y%m%d-%H%M%S)

torch_run() { "$torch_py" "$shared/torch_ref.py" --threads "$threads" --repeats 5 --no-matmul "$@" >/dev/null; }
engine_run() { "$py" "$here/engine_bench.py" --threads "$threads" --repeats 5 --no-matmul "$@" >/dev/null; }

for r in $(seq 1 "$runs"); do
    t="$out/torch-t$threads-$stamp-r$r.json"
    d="$out/dl-lab-t$threads-$stamp-r$r.json"
    if ((r % 2)); then
        torch_run "$@" --out "$t"; engine_run "$@" --out "$d"
    else
        engine_run "$@" --out "$d"; torch_run "$@" --out "$t"
    fi
done
report="$out/report-t$threads-$stamp.md"
"$py" "$shared/report.py" "$out"/*-t"$threads"-"$stamp"-r*.json >"$report"
"$py" "$here/ratios.py" "$out"/*-t"$threads"-"$stamp"-r*.json | tee -a "$report"
echo "wrote $report"
