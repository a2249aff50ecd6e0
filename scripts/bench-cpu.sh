#!/usr/bin/env bash
# scripts/bench-cpu.sh - the CPU performance benchmark of issue 3: the loop's
# best matmul at 1024^3 and 2048^3 against OpenBLAS (timed in the same
# process, interleaved), and the best attention at S=1024, D=64 against the
# naive rung. Prints, per run, every evaluation and the best candidate's
# per-shape ratios. State goes to a fresh directory (default /tmp/spak-bench).
set -eu
cd "$(dirname "$0")/.."
home=${1:-/tmp/spak-bench}
rm -rf "$home"
# SPAK=path/to/spak uses that binary and builds nothing
[ -n "${SPAK:-}" ] || make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%Y-%m-%d)"
for spec in bench/matmul-cpu.spak bench/attention-cpu.spak; do
    echo
    echo "== build/spak run $spec"
    run=$(${SPAK:-build/spak} run --home "$home" --json "$spec" 2>/dev/null | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_id"])')
    ${SPAK:-build/spak} show --home "$home" "$run"
    best=$(${SPAK:-build/spak} show --home "$home" --json "$run" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["best"]["eval_id"])')
    python3 - "$home/spak.db" "$run" "$best" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
rows = db.execute("select record_json from traces where run_id=? and eval_id=? and case_name='Performance'",
                  (sys.argv[2], int(sys.argv[3]))).fetchall()
print("best candidate, per shape:")
print("  %-16s %10s %12s %14s %8s" % ("shape", "time_ms", "GFLOP/s", "baseline GF/s", "ratio"))
for (r,) in rows:
    d = json.loads(r)
    print("  %-16s %10.2f %12.1f %14.1f %7.2fx" % (d["shape"], d["time_ms"], d["gflops"], d["baseline_gflops"], d["ratio"]))
PY
done
