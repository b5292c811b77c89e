#!/usr/bin/env bash
# The GPU figures of benchmarks/README.md: S-B/16 stage 1 (LPIPS on) and the DiT in bf16, eager and compiled.
# Usage: benchmarks/gpu.sh [extra args for benchmarks/gpu.py], e.g. --quick for a check that it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python )}
nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv || true
"$PY" benchmarks/gpu.py --out benchmarks "$@" 2>&1 | tee benchmarks/gpu_log.txt
