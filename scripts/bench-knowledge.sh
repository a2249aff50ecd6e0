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
# FAMILIES="matmul attention" (the default) or one of them; REPS=N repeats
# the knowledge source run N times (seeds: the spec's, then 2..N), each
# transferred on its own: the transfer columns then show "median (each)"
FAMILIES=${FAMILIES:-matmul attention}
REPS=${REPS:-1}
rm -rf "$home"
mkdir -p "$home"
chmod 755 "$home"
# the landscapes, which the replay command reads from its sandbox: outside
# the home, which spak closes to every sandboxed process (docs/sandbox.md)
data="$home-data"
rm -rf "$data"
mkdir -p "$data"
chmod 755 "$data"
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

# one cell over the repetitions: the value, or "median (a,b,c)"
reps_cell() {
    if [ "$#" = 1 ]; then echo "$1"; return; fi
    python3 - "$@" <<'PY'
import sys
v = sys.argv[1:]
num = sorted(float("inf") if x == "never" else int(x) for x in v)
m = num[(len(num) - 1) // 2]
print("%s (%s)" % ("never" if m == float("inf") else m, ",".join(v)))
PY
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
    landscape "$land_run" >"$data/$name-landscape.json"
    chmod 644 "$data/$name-landscape.json"
    local best
    best=$($S show --home "$home" --json "$land_run" | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["best"]["gflops"])')
    local target
    target=$(python3 -c "print(0.95 * $best)")
    replay_spec "$tspec" "$data/$name-landscape.json" "$home/$name-replay.spak"
    local r g rand=() ru rts=() rls=() src_runs=()
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
    # the knowledge source: REPS real runs at the other shape (the spec's seed,
    # then seeds 2, 3, ...), each crystallized and transferred on its own
    local rep v2 v2t="$dir/.bench-$name-target.v2.spak"
    for rep in $(seq 1 "$REPS"); do
        echo "== $name: knowledge source $rep/$REPS: a real run (default strategy, 16 evaluations) at $sshapes, then spak learn" >&2
        local seedopt=()
        [ "$rep" = 1 ] || seedopt=(--seed "$rep")
        src_run=$($S run --home "$home" --json --budget 16 --no-learn "${seedopt[@]}" "$sspec" 2>>"$home/$name-source.log" | runid)
        src_runs+=("$src_run")
        $S learn --home "$home" --json "$src_run" 2>>"$home/$name-learn.log" | tail -1 >"$home/$name-learn-$rep.json"
        v2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["spec"])' "$home/$name-learn-$rep.json")
        # the v(n+1) of the source run, moved to the target shapes, replayed on the landscape
        variant "$v2" "$tshapes" "$v2t"
        replay_spec "$v2t" "$data/$name-landscape.json" "$home/$name-replay-v2.spak"
        rts+=("$(to95 "$($S run --home "$home" --json --strategy rules --no-learn "$home/$name-replay-v2.spak" 2>/dev/null | runid)" "$target")")
        # the store's lessons: cumulative (repetition k reads the lessons of
        # source runs 1..k, as a user's store would hold them)
        rls+=("$(to95 "$($S run --home "$home" --json --strategy rules --lessons --no-learn "$home/$name-replay.spak" 2>/dev/null | runid)" "$target")")
        rm -f "$v2t" "$v2" "${v2%.spak}.insights.jsonl"
    done
    local med rt rl
    med=$(printf '%s\n' "${rand[@]}" | sort -n | sed -n 3p)
    rt=$(reps_cell "${rts[@]}")
    rl=$(reps_cell "${rls[@]}")
    local space
    space=$(python3 -c "import json; print(len(json.load(open('$data/$name-landscape.json'))))")
    table+=("$(printf '| %-9s | %-22s | %5s | %4s | %4s (%s) | %4s (%s) | %5s | %8s | %8s |' "$name" "$tshapes" "$space" "$g" "$med" "$(echo "${rand[@]}" | tr ' ' ',')" "$dmed" "$(echo "${dflt[@]}" | tr ' ' ',')" "$ru" "$rt" "$rl")")
    rm -f "$tspec" "$sspec"
    echo "   best at the target: $best GFLOP/s (95%: $target); source runs ${src_runs[*]} (lessons: $home/$name-learn-N.json)" >&2
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; $(date -u +%Y-%m-%d)"
for fam in $FAMILIES; do
    case $fam in
    matmul) bench_family matmul examples/matmul-cpu.spak '"512x512x512"' '"384x640x256"' ;;
    attention) bench_family attention examples/attention-cpu.spak '"1x4x512x64", "1x4x512x64c"' '"1x2x256x64"' ;;
    *) echo "bench-knowledge: unknown family $fam (matmul, attention)" >&2; exit 2 ;;
    esac
done
echo
echo "evaluations to reach 95% of the best result of any strategy (lower is better)"
echo
echo "| family    | target shapes          | space | grid | random: median (5 seeds) | default: median (5 seeds) | rules | rules + v(n+1) | rules + store lessons |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${table[@]}"
