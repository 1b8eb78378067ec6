#!/usr/bin/env bash
# The CUDA check, in one run of under five minutes on a lent GPU machine: the CUDA tests and the
# quick benchmark, with everything written under benchmarks/results/ (gpu_*.{txt,json}).
#
#   bash benchmarks/gpu_check.sh            # from the repository root, with i2i installed
#   PYTHON=.venv/bin/python bash benchmarks/gpu_check.sh
#
# Without a CUDA device it stops at once with exit 2 (it must never pass by skipping everything).
# Exit status: 0 when the tests and the benchmark both succeeded, else the first failure's.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=benchmarks/results
mkdir -p "$OUT"

if ! "$PY" - <<'PY'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device visible to torch " + torch.__version__ + " (torch.version.cuda="
             + str(torch.version.cuda) + "); nothing to check")
print("gpu_check:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda,
      "| bf16", torch.cuda.is_bf16_supported())
PY
then
  exit 2
fi

{ nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv 2>/dev/null || true; } \
  > "$OUT/gpu_device.txt"

start=$(date +%s)
# 1. the CUDA tests: each one must run, not skip (-rs lists any skip; --strict-markers keeps typos out)
timeout 150 "$PY" -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/gpu_tests.txt"
tests_rc=${PIPESTATUS[0]}
if grep -q "skipped" "$OUT/gpu_tests.txt"; then
  echo "gpu_check: a CUDA test skipped on a CUDA machine" | tee -a "$OUT/gpu_tests.txt"
  [ "$tests_rc" = 0 ] && tests_rc=1
fi

# 2. the quick benchmark on the GPU (fp32 NCHW vs the fast path, every method), JSON + table
timeout 210 "$PY" benchmarks/run.py --device cuda --quick --no-data --out "$OUT/gpu_quick.json" 2>&1 \
  | tee "$OUT/gpu_quick.txt"
bench_rc=${PIPESTATUS[0]}
if [ "$bench_rc" = 0 ]; then
  "$PY" benchmarks/run.py --markdown "$OUT/gpu_quick.json" > "$OUT/gpu_quick.md" 2>&1 || true
fi

echo "gpu_check: tests rc=$tests_rc, benchmark rc=$bench_rc, $(( $(date +%s) - start )) s; results in $OUT/gpu_*"
[ "$tests_rc" != 0 ] && exit "$tests_rc"
exit "$bench_rc"
