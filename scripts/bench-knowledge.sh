#!/usr/bin/env bash
# scripts/bench-knowledge.sh [HOME] - the evidence of issue 4: evaluations a
# strategy needs to reach 95% of the best result found by any strategy, on
# the CPU examples (matmul, attention), for: grid; random (median of 5
# seeds); default (median of 5 seeds); rules (the spec's own rules); rules with knowledge transferred from
# a run on another shape (v(n+1) written by `spak learn`, and the store's
# lessons with --lessons).
#
# Method. For each family a real grid run measures every candidate of the
# target problem once (the landscape). The strategies are then compared on
# that landscape: their measure command replays the records the harness
# produced for the candidate (bench/knowledge/replay.py), so every strategy
# sees the same real numbers and the comparison is not decided by timing
# noise. The knowledge that is transferred comes from a separate real run on
# a different shape, crystallized with `spak learn`.
set -eu
cd "$(dirname "$0")/.."
home=${1:-/tmp/spak-bench-knowledge}
rm -rf "$home"
mkdir -p "$home"
chmod 755 "$home"
# SPAK=path/to/spak uses that binary and builds nothing
[ -n "${SPAK:-}" ] || make -j"$(nproc 2>/dev/null || echo 2)" all >/dev/null
S=${SPAK:-build/spak}
runid() { python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["run_id"])'; }

# spec for shape(s) $2 from the example $1, written to $3 (next to the examples, so relative sources resolve)
variant() {
    sed -e "s|shapes: \[[^]]*\]|shapes: [$2]|" -e 's|budget { evaluations: [0-9]* }||' -e 's|stop { [^}]* }||' "$1" >"$3"
}
# the replay twin of spec $1 over landscape $2, written to $3
replay_spec() {
    local params
    params=$(python3 - "$1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
names = []
for block in ("design_space", "tuning_space"):
    m = re.search(block + r"\s*\{(.*?)\n    \}", text, re.S)
    if m:
        names += re.findall(r"^\s*(\w+)\s*:", m.group(1), re.M)
print(",".join(n + "={{" + n + "}}" for n in names))
PY
)
    sed -e "s|cmd: \".*\"|cmd: \"python3 $PWD/bench/knowledge/replay.py $2 $params\"|" -e '/source: /d' -e '/baseline_source: /d' "$1" >"$3"
}
landscape() {  # run -> json {key: [records]}
    python3 - "$home/spak.db" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
land = {}
for key, rec in db.execute("""select c.key, t.record_json from traces t join evaluations e on e.run_id=t.run_id and e.eval_id=t.eval_id
                             join candidates c on c.run_id=e.run_id and c.cand_id=e.cand_id
                             where t.run_id=? and t.valid=1 order by t.eval_id, t.seq""", (sys.argv[2],)):
    land.setdefault(key, []).append(json.loads(rec))
print(json.dumps(land))
PY
}
to95() {  # run target -> evaluations until metric >= target
    $S show --home "$home" --json "$1" | python3 -c '
import json, sys
t = float(sys.argv[1])
ev = json.load(sys.stdin)["evaluations"]
for i, e in enumerate(ev, 1):
    if e["metric"] is not None and e["metric"] >= t:
        print(i); break
else:
    print("never")' "$2"
}

table=()
bench_family() {  # name example target_shapes source_shapes
    local name=$1 ex=$2 tshapes=$3 sshapes=$4
    local dir
    dir=$(dirname "$ex")
    local tspec="$dir/.bench-$name-target.spak" sspec="$dir/.bench-$name-source.spak"
    variant "$ex" "$tshapes" "$tspec"
    variant "$ex" "$sshapes" "$sspec"
    echo "== $name: landscape: a real grid run over every candidate at $tshapes" >&2
    local land_run
    land_run=$($S run --home "$home" --json --strategy grid --no-learn --early-stop 0 "$tspec" 2>>"$home/$name-landscape.log" | runid)
    landscape "$land_run" >"$home/$name-landscape.json"
    local best
    best=$($S show --home "$home" --json "$land_run" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["best"]["gflops"])')
    local target
    target=$(python3 -c "print(0.95 * $best)")
    echo "== $name: knowledge source: a real run (default strategy, 16 evaluations) at $sshapes, then spak learn" >&2
    local src_run v2
    src_run=$($S run --home "$home" --json --budget 16 --no-learn "$sspec" 2>>"$home/$name-source.log" | runid)
    v2=$($S learn --home "$home" --json "$src_run" 2>>"$home/$name-learn.log" | python3 -c 'import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])["spec"])')
    # the v(n+1) of the source run (spak learn writes it into the run's folder of
    # $home, naming the example's folder as its base), moved to the target shapes,
    # replayed on the landscape
    local v2t="$dir/.bench-$name-target.v2.spak"
    variant "$v2" "$tshapes" "$v2t"
    replay_spec "$tspec" "$home/$name-landscape.json" "$home/$name-replay.spak"
    replay_spec "$v2t" "$home/$name-landscape.json" "$home/$name-replay-v2.spak"
    local r g rand=() ru rt rl
    g=$(to95 "$($S run --home "$home" --json --strategy grid --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)" "$target")
    for seed in 1 2 3 4 5; do
        r=$($S run --home "$home" --json --strategy random --seed "$seed" --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)
        rand+=("$(to95 "$r" "$target")")
    done
    local dflt=()
    for seed in 1 2 3 4 5; do
        r=$($S run --home "$home" --json --strategy default --seed "$seed" --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)
        dflt+=("$(to95 "$r" "$target")")
    done
    local dmed
    dmed=$(printf '%s\n' "${dflt[@]}" | sort -n | sed -n 3p)
    ru=$(to95 "$($S run --home "$home" --json --strategy rules --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)" "$target")
    rt=$(to95 "$($S run --home "$home" --json --strategy rules --no-learn "$home/$name-replay-v2.spak" 2>/dev/null | runid)" "$target")
    rl=$(to95 "$($S run --home "$home" --json --strategy rules --lessons --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)" "$target")
    local med
    med=$(printf '%s\n' "${rand[@]}" | sort -n | sed -n 3p)
    local space
    space=$(python3 -c "import json; print(len(json.load(open('$home/$name-landscape.json'))))")
    table+=("$(printf '| %-9s | %-22s | %5s | %4s | %4s (%s) | %4s (%s) | %5s | %8s | %8s |' "$name" "$tshapes" "$space" "$g" "$med" "$(echo "${rand[@]}" | tr ' ' ',')" "$dmed" "$(echo "${dflt[@]}" | tr ' ' ',')" "$ru" "$rt" "$rl")")
    rm -f "$tspec" "$sspec" "$v2t"  # v2 and its insights stay in $home, with the run
    echo "   best at the target: $best GFLOP/s (95%: $target); source run $src_run, v(n+1) $v2" >&2
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%Y-%m-%d)"
bench_family matmul examples/matmul-cpu.spak '"512x512x512"' '"384x640x256"'
bench_family attention examples/attention-cpu.spak '"1x4x512x64", "1x4x512x64c"' '"1x2x256x64"'
echo
echo "evaluations to reach 95% of the best result of any strategy (lower is better)"
echo
echo "| family    | target shapes          | space | grid | random: median (5 seeds) | default: median (5 seeds) | rules | rules + v(n+1) | rules + store lessons |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${table[@]}"
