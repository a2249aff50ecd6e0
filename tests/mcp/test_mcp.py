"""tests/mcp/test_mcp.py SPAK SPEC SCRATCH - `spak mcp` driven by the official
MCP Python SDK's client (PyPI `mcp`) over stdio, and by raw JSON-RPC where the
SDK cannot say it (another protocol revision, a parse error, a cancellation of
a known request). TAP on stdout. tests/suites/mcp.sh runs it.

SPEC is a tiny CPU matmul spec (the shape of examples/matmul-cpu.spak);
SCRATCH a folder of mode 755 for the homes."""
import asyncio
import difflib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import McpError

SPAK, SPEC, T = sys.argv[1], sys.argv[2], sys.argv[3]
HOME = os.path.join(T, "home")
n = 0
failed = 0


def check(name, cond, detail=""):
    global n, failed
    n += 1
    if cond:
        print(f"ok {n} - {name}", flush=True)
    else:
        failed += 1
        print(f"not ok {n} - {name}", flush=True)
        for line in str(detail).splitlines()[:30]:
            print(f"#   {line}", flush=True)


def params(home=HOME):
    return StdioServerParameters(command=SPAK, args=["mcp", "--home", home])


def text(res):
    return "\n".join(c.text for c in res.content if getattr(c, "type", "") == "text")


def judged(e):
    """An evaluation the judge finished with a verdict on the candidate:
    correct, or failed "busy" (other work on the machine slowed the baseline
    and never quieted down for the judge to measure again,
    kernels/cpu/common/load.c): an end, with nothing lost, which is what the
    kill and attach checks are about; a wrong or crashed candidate is not."""
    return bool(e.get("correct")) or ": busy: " in (e.get("error") or "")


def brief(evs):
    """One line an evaluation: what a failed check needs to say."""
    return "\n".join(f"{e.get('eval_id')} {e.get('status')} correct={e.get('correct')} {e.get('error') or ''}"
                     for e in evs)


def evaluations(home, run):
    db = sqlite3.connect(os.path.join(home, "spak.db"))
    rows = db.execute(
        "SELECT e.eval_id, c.key, e.status, e.error FROM evaluations e JOIN candidates c ON c.run_id = e.run_id "
        "AND c.cand_id = e.cand_id WHERE e.run_id = ? ORDER BY e.eval_id", (run,)).fetchall()
    db.close()
    return rows


KERNEL = """#include "abi.h"
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) C[(long)i * N + j] = 0.0f;
        for (int k = 0; k < K; k++) {
            float a = A[(long)i * K + k];
            for (int j = 0; j < N; j++) C[(long)i * N + j] += a * B[(long)k * N + j];
        }
    }
    return 0;
}
"""

# reads its own tunable: the i loop unrolled by UNR rows (1 or 2)
TUNED = """#include "abi.h"
#ifndef UNR
#error "UNR is a tunable of this proposal"
#endif
int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    if (M < 1 || N < 1 || K < 1) return 1;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) C[(long)i * N + j] = 0.0f;
    int i = 0;
    for (; i + UNR <= M; i += UNR)
        for (int k = 0; k < K; k++)
            for (int r = 0; r < UNR; r++) {
                float a = A[(long)(i + r) * K + k];
                for (int j = 0; j < N; j++) C[(long)(i + r) * N + j] += a * B[(long)k * N + j];
            }
    for (; i < M; i++)
        for (int k = 0; k < K; k++) {
            float a = A[(long)i * K + k];
            for (int j = 0; j < N; j++) C[(long)i * N + j] += a * B[(long)k * N + j];
        }
    return 0;
}
"""


async def call(s, name, args, **kw):
    return await s.call_tool(name, args, read_timeout_seconds=timedelta(seconds=300), **kw)


async def wait_done(s, run, prop, timeout=240, **kw):
    res = await call(s, "spak_wait", {"run": run, "proposal": prop, "timeout_s": timeout}, **kw)
    return res, res.structuredContent or {}


async def lifecycle_and_tools():
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            init = await s.initialize()
            check("initialize: the SDK's revision 2025-11-25 is answered as it is",
                  init.protocolVersion == "2025-11-25", init)
            check("initialize: serverInfo names spak, tools capability", init.serverInfo.name == "spak" and
                  init.capabilities.tools is not None, init)
            tools = {t.name: t for t in (await s.list_tools()).tools}
            want = {"spak_check", "spak_start", "spak_attach", "spak_context", "spak_propose", "spak_wait",
                    "spak_status", "spak_show", "spak_learn", "spak_report", "spak_stop"}
            check("tools/list names every tool", want <= set(tools), sorted(tools))
            check("every tool has an object inputSchema",
                  all(t.inputSchema.get("type") == "object" for t in tools.values()))
            props = tools["spak_propose"].inputSchema.get("properties", {})
            check("spak_propose's schema has point, values, source, diff, tunables and the prediction",
                  {"point", "values", "source", "diff", "tunables", "prediction", "predicted_ratio"} <= set(props),
                  props)
            check("no tool approves a gate", not any("approve" in n_ and n_ != "spak_start" for n_ in tools))
            res = await call(s, "spak_check", {"spec": SPEC})
            check("spak_check: the test spec is valid", (res.structuredContent or {}).get("ok") is True, text(res))
            bad = os.path.join(T, "bad.spak")
            with open(SPEC) as f:
                open(bad, "w").write(f.read().replace('metric: "gflops"', 'metric: "gflopz"'))
            res = await call(s, "spak_check", {"spec": bad})
            check("spak_check: a broken spec is not ok and its diagnostic says file:line:col",
                  (res.structuredContent or {}).get("ok") is False and "bad.spak:" in text(res), text(res))
            for name, args, what in [
                ("spak_nosuch", {}, "unknown tool"),
                ("spak_propose", {"run": "r1"}, "a proposal is"),
                ("spak_start", {"spec": SPEC, "budget": "many"}, "'budget' must be a number"),
                ("spak_start", {"spec": SPEC, "budgte": 3}, "unknown argument 'budgte'"),
                ("spak_wait", {"run": "../etc"}, "must be a run id"),
                ("spak_propose", {"run": "r1", "point": "a=1", "tunables": {"X": [1]}}, "go with a 'source'"),
            ]:
                try:
                    res = await call(s, name, args)
                    check(f"bad arguments ({what}): a JSON-RPC error -32602", False, f"no error: {text(res)}")
                except McpError as e:
                    check(f"bad arguments ({what}): a JSON-RPC error -32602 that says so",
                          e.error.code == -32602 and what in e.error.message, f"{e.error.code} {e.error.message}")


async def full_cycle():
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await call(s, "spak_start", {"spec": SPEC, "budget": 40})
            run = (res.structuredContent or {}).get("run_id")
            check("spak_start: a run of strategy external that waits", run and
                  (res.structuredContent or {}).get("status") == "suspended", text(res))
            res = await call(s, "spak_context", {"run": run})
            ctx = text(res)
            check("spak_context: the engineer's context (task, ABI, space, reply format)",
                  "## Task" in ctx and "spak_matmul" in ctx and "rung:" in ctx, ctx[:600])
            res = await call(s, "spak_propose", {"run": run, "point": "rung=reorder", "prediction": "i-k-j order "
                                                 "walks B by rows", "predicted_ratio": 1.5})
            p1 = (res.structuredContent or {}).get("proposal")
            check("spak_propose (a point) returns a proposal id at once", isinstance(p1, int), text(res))
            progress = []

            async def on_progress(p, total, message):
                progress.append((p, total, message))
            res, st = await wait_done(s, run, p1, progress_callback=on_progress)
            ev = (st.get("evaluations") or [{}])[0]
            check("spak_wait: the point was judged correct, with metric and ratio",
                  st.get("done") and ev.get("correct") is True and ev.get("metric") and ev.get("candidate") ==
                  "rung=reorder", text(res))
            check("the prediction is stored with the evaluation",
                  (ev.get("prediction") or {}).get("ratio") == 1.5, ev)
            db = sqlite3.connect(os.path.join(HOME, "spak.db"))
            rj = db.execute("SELECT result_json FROM evaluations WHERE run_id = ? AND eval_id = ?",
                            (run, ev.get("eval_id"))).fetchone()[0]
            db.close()
            note = json.loads(rj or "{}").get("external", {})
            check("the evaluation's note carries the prediction under the llm note's names (predicted_ratio, "
                  "prediction_why), for the context's score", note.get("predicted_ratio") == 1.5 and
                  "walks B" in str(note.get("prediction_why")), note)
            check("progress notifications came for the wait's progress token", len(progress) >= 1, progress)
            res = await call(s, "spak_propose", {"run": run, "source": KERNEL, "prediction": "the same as reorder",
                                                 "predicted_metric": 10.0})
            p2 = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p2)
            ev = (st.get("evaluations") or [{}])[0]
            check("a whole-source proposal is built, checked and timed (code candidate, correct)",
                  st.get("done") and ev.get("correct") is True and str(ev.get("candidate")).startswith("code:ext-"),
                  text(res))
            ctx = text(await call(s, "spak_context", {"run": run}))
            check("the context after it shows what was tried", "rung=reorder" in ctx and "code:ext-" in ctx,
                  ctx[-1500:])
            best = (await s.read_resource(f"spak://{run}/best-source")).contents[0].text
            new = best.replace("#include \"abi.h\"", "#include \"abi.h\"\n/* a comment the diff adds */", 1)
            diff = "".join(difflib.unified_diff(best.splitlines(True), new.splitlines(True), "a/k.c", "b/k.c"))
            res = await call(s, "spak_propose", {"run": run, "diff": diff, "prediction": "no change"})
            p3 = (res.structuredContent or {}).get("proposal")
            check("a diff against the best source is accepted", isinstance(p3, int) and not res.isError, text(res))
            res, st = await wait_done(s, run, p3)
            ev = (st.get("evaluations") or [{}])[0]
            check("the patched source is judged correct", st.get("done") and ev.get("correct") is True, text(res))
            bad = diff.replace("#include \"abi.h\"\n", "#include \"abx.h\"\n", 1)
            res = await call(s, "spak_propose", {"run": run, "diff": bad})
            check("a diff whose context does not match is refused, naming the hunk and the source line",
                  res.isError and "hunk 1" in text(res) and "source line" in text(res), text(res))
            try:
                await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [1, 2, 4]},
                                               "conditions": ["UNR <= NOPE"]})
                check("a condition that reads no tunable is a JSON-RPC error", False)
            except McpError as e:
                check("a condition that reads no tunable is a JSON-RPC error -32602 naming it",
                      e.error.code == -32602 and "NOPE" in e.error.message, e.error.message)
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [1, 2, 4]},
                                                 "conditions": ["UNR <= 2"], "strategy": "grid",
                                                 "prediction": "2 rows share each B row"})
            p4 = (res.structuredContent or {}).get("proposal")
            check("a proposal with tunables is one sweep (one queued item) over the points its conditions allow",
                  (res.structuredContent or {}).get("items") == 1 and
                  ((res.structuredContent or {}).get("sweep") or {}).get("points") == 2, text(res))
            res, st = await wait_done(s, run, p4)
            evs = st.get("evaluations") or []
            check("the grid sweep judged the two allowed points in order, each with its values, both correct",
                  st.get("done") and [json.dumps(e.get("tunables")) for e in evs] == ['{"UNR": 1}', '{"UNR": 2}']
                  and all(e.get("correct") and (e.get("swept") or {}).get("strategy") == "grid" for e in evs),
                  text(res))
            check("the wait says how the sweep ended (grid: no untried point left)",
                  "no untried point" in ((st.get("sweep") or {}).get("ended") or ""), st.get("sweep"))
            res = await call(s, "spak_status", {"run": run})
            st = res.structuredContent or {}
            check("spak_status sees the run's evaluations (all in the store)",
                  (st.get("evaluations_by_status") or {}).get("done") == 5, text(res))
            res = await call(s, "spak_show", {"run": run})
            check("spak_show lists them", len((res.structuredContent or {}).get("evaluations", [])) == 5, text(res))
            res = await call(s, "spak_report", {"run": run})
            rep = res.structuredContent or {}
            check("spak_report writes the run's report (its paths exist)", not res.isError and
                  os.path.exists(rep.get("markdown", "")) and os.path.exists(rep.get("html", "")), text(res))
            res = await call(s, "spak_learn", {"run": run})
            check("spak_learn crystallizes the run (lessons, the spec's next version)", not res.isError and
                  "lessons" in (res.structuredContent or {}), text(res)[:800])
            names = [x.uri for x in (await s.list_resources()).resources]
            check("resources: the spec, the ABI header and the header it includes, the best source",
                  any(str(u).endswith("/spec") for u in names) and any(str(u).endswith("/abi/abi.h") for u in names)
                  and any(str(u).endswith("/abi/info.h") for u in names), names)
            abi = (await s.read_resource(f"spak://{run}/abi/abi.h")).contents[0].text
            check("the ABI resource is the family's header", "spak_matmul" in abi, abi[:300])
            return run


async def gate():
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await call(s, "spak_start", {"spec": SPEC, "budget": 5, "approve": "llm-code"})
            run = (res.structuredContent or {}).get("run_id")
            res = await call(s, "spak_propose", {"run": run, "source": KERNEL})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p, timeout=120)
            check("a code proposal behind an approval gate: the wait says the run waits for the supervisor",
                  not st.get("done") and "spak approve" in (st.get("waiting_for") or ""), text(res))
            out = subprocess.run([SPAK, "approve", "--home", HOME, run], capture_output=True, text=True,
                                 stdin=subprocess.DEVNULL, timeout=200)
            res, st = await wait_done(s, run, p, timeout=60)
            ev = (st.get("evaluations") or [{}])[0]
            check("after 'spak approve' (a person, not a tool) the proposal is judged",
                  st.get("done") and ev.get("correct") is True, f"{out.stdout}{out.stderr}\n{text(res)}")


class Raw:
    """A JSON-RPC client over the server's stdio, line by line."""

    def __init__(self, home=HOME):
        self.p = subprocess.Popen([SPAK, "mcp", "--home", home], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, bufsize=1)
        self.id = 0

    def send(self, obj):
        self.p.stdin.write((obj if isinstance(obj, str) else json.dumps(obj)) + "\n")
        self.p.stdin.flush()

    def request(self, method, params=None):
        self.id += 1
        self.send({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params or {}})
        return self.id

    def read(self, want_id=None, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            line = self.p.stdout.readline()
            if not line:
                return None
            m = json.loads(line)
            if want_id is None or m.get("id") == want_id:
                return m
        return None

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def raw_protocol():
    for asked, want in [("2025-06-18", "2025-06-18"), ("2025-11-25", "2025-11-25"), ("2099-01-01", "2025-11-25")]:
        c = Raw()
        i = c.request("initialize", {"protocolVersion": asked, "capabilities": {},
                                     "clientInfo": {"name": "raw", "version": "0"}})
        m = c.read(i)
        check(f"version negotiation: a client asking {asked} gets {want}",
              m and m.get("result", {}).get("protocolVersion") == want, m)
        c.close()
    c = Raw()
    c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "r"}})
    c.read()
    c.send("{this is not json")
    m = c.read()
    check("a line that is not JSON: parse error -32700", m and m.get("error", {}).get("code") == -32700, m)
    i = c.request("tools/frobnicate")
    m = c.read(i)
    check("an unknown method: -32601", m and m.get("error", {}).get("code") == -32601, m)
    c.close()


def raw_cancel(run):
    c = Raw()
    c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "r"}})
    c.read()
    # the first proposal keeps the run busy; the second waits in the queue
    i1 = c.request("tools/call", {"name": "spak_propose", "arguments": {"run": run, "source": KERNEL}})
    p1 = c.read(i1)["result"]["structuredContent"]["proposal"]
    i2 = c.request("tools/call", {"name": "spak_propose", "arguments": {"run": run, "point": "rung=naive"}})
    p2 = c.read(i2)["result"]["structuredContent"]["proposal"]
    c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": i2, "reason": "test"}})
    iw = c.request("tools/call", {"name": "spak_wait", "arguments": {"run": run, "proposal": p1, "timeout_s": 200}})
    time.sleep(0.5)
    c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": iw}})
    ip = c.request("ping")
    m = c.read()
    check("a cancelled wait ends unanswered: the next message is the ping's answer", m and m.get("id") == ip, m)
    iw2 = c.request("tools/call", {"name": "spak_wait", "arguments": {"run": run, "proposal": p1,
                                                                      "timeout_s": 200}})
    m = c.read(iw2, timeout=220)
    check("the run went on: a new wait gets the first proposal's records",
          m and m["result"]["structuredContent"]["done"], m)
    ist = c.request("tools/call", {"name": "spak_status", "arguments": {"run": run}})
    st = c.read(ist)["result"]["structuredContent"]
    keys = [k for _, k, _, _ in evaluations(HOME, run)]
    check("a propose cancelled before the run took it is withdrawn: nothing queued, never evaluated",
          st.get("queued") == 0 and "rung=naive" not in keys, f"queued {st.get('queued')}, keys {keys}, p2 {p2}")
    c.close()


async def kill_and_attach(run):
    before = len(evaluations(HOME, run))
    c = Raw()
    c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "r"}})
    c.read()
    i = c.request("tools/call", {"name": "spak_propose", "arguments": {
        "run": run, "source": TUNED, "tunables": {"UNR": [1, 2, 4]}}})
    prop = c.read(i)["result"]["structuredContent"]["proposal"]
    end = time.time() + 60
    while time.time() < end and len(evaluations(HOME, run)) == before:
        time.sleep(0.2)  # until the first of its evaluations has begun
    c.p.send_signal(signal.SIGKILL)
    c.p.wait()
    check("the server was killed (SIGKILL) mid-evaluation", len(evaluations(HOME, run)) > before and
          c.p.returncode == -signal.SIGKILL, c.p.returncode)
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await call(s, "spak_attach", {"run": run})
            check("spak_attach takes the run up again", not res.isError and
                  (res.structuredContent or {}).get("run_id") == run, text(res))
            res, st = await wait_done(s, run, prop)
            evs = st.get("evaluations") or []
            check("the proposal's three evaluations all end, after the kill",
                  st.get("done") and len(evs) == 3 and all(judged(e) for e in evs), brief(evs) or text(res))
    rows = evaluations(HOME, run)
    mine = [r_ for r_ in rows[before:]]
    keys = [k for _, k, _, _ in mine]
    check("nothing lost or redone: exactly three new evaluations, distinct, none interrupted",
          len(mine) == 3 and len(set(keys)) == 3 and
          all(s_ == "done" or ": busy: " in (err or "") for _, _, s_, err in mine), mine)


def owner_pid(home, run):
    db = sqlite3.connect(os.path.join(home, "spak.db"))
    row = db.execute("SELECT owner FROM runs WHERE id = ?", (run,)).fetchone()
    db.close()
    return int(row[0].rsplit(":", 1)[1]) if row and row[0] else None


async def kill_both_and_attach(run):
    """The server and the `spak resume` it started both killed mid-evaluation:
    the cut-off item goes back to the queue, the rest waits there."""
    before = len(evaluations(HOME, run))
    c = Raw()
    c.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "r"}})
    c.read()
    i = c.request("tools/call", {"name": "spak_propose", "arguments": {
        "run": run, "source": TUNED, "tunables": {"UNR": [3, 5]}}})
    prop = c.read(i)["result"]["structuredContent"]["proposal"]
    end = time.time() + 60
    while time.time() < end and len(evaluations(HOME, run)) == before:
        time.sleep(0.1)
    c.p.send_signal(signal.SIGKILL)
    c.p.wait()
    pid = owner_pid(HOME, run)
    if pid:
        os.kill(pid, signal.SIGKILL)  # the resume the killed server started (the run's owner)
    time.sleep(0.5)
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            await call(s, "spak_attach", {"run": run})
            res, st = await wait_done(s, run, prop)
            evs = st.get("evaluations") or []
            check("server and its resume both killed: after attach both items end, correct",
                  st.get("done") and len(evs) == 2 and all(judged(e) for e in evs), brief(evs) or text(res))
    rows = evaluations(HOME, run)[before:]
    states = sorted(s_ for _, _, s_, _ in rows)
    check("the cut-off evaluation is recorded interrupted and judged again once; nothing else redone",
          pid is not None and states == ["done", "done", "interrupted"], f"owner {pid}, {rows}")


async def stop(run):
    """spak_stop mid-evaluation: the queue emptied, the evaluation under way
    interrupted, the run resumable, and nothing of it comes back."""
    before = len(evaluations(HOME, run))
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            await call(s, "spak_attach", {"run": run})
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [6, 7, 8]}})
            end = time.time() + 60
            while time.time() < end and len(evaluations(HOME, run)) == before:
                await asyncio.sleep(0.1)
            res = await call(s, "spak_stop", {"run": run})
            st = res.structuredContent or {}
            check("spak_stop withdraws what is queued (the sweep, with its points not taken yet) and interrupts "
                  "the evaluation under way", st.get("withdrawn") == 1 and st.get("interrupted") is True, text(res))
            await asyncio.sleep(1.0)
            res = await call(s, "spak_propose", {"run": run, "point": "rung=blocked,threads=1,tile_k=128"})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            check("the stopped run takes a new proposal (it stayed resumable)", st.get("done"), text(res))
    keys = [k for _, k, _, _ in evaluations(HOME, run)[before:]]
    check("nothing of the stopped proposal came back: one cut off, then only the new point",
          len(keys) == 2 and keys[1] == "rung=blocked,threads=1,tile_k=128", keys)


# reads BAD: every point with BAD > 0 fails to build (a sweep's failures, in a known order)
BAD = """#include "abi.h"
#if BAD > 0
#error "BAD > 0 does not build"
#endif
""" + KERNEL.split('#include "abi.h"\n', 1)[1]


def sweep_of(st):
    return (st.get("sweep") or {}).get("ended") or ""


async def sweeps():
    """A proposal's tunables swept by a strategy, one point at a time, each
    point one evaluation, ending where the strategy ends: its goal, its
    plateau, max_points; spak_start's sweep, or the spec's strategy."""
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await call(s, "spak_start", {"spec": SPEC, "budget": 30, "sweep": "random"})
            run = (res.structuredContent or {}).get("run_id")
            tun = {"UNR": [1, 2, 4], "PAD": [0, 1, 2]}
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": tun, "goal": 1e-9})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            evs = st.get("evaluations") or []
            check("a sweep with a goal ends at the first point that reaches it: one evaluation of nine",
                  st.get("done") and len(evs) == 1 and sweep_of(st).startswith("goal"), text(res))
            check("with no strategy given it walks with spak_start's sweep (random)",
                  evs and (evs[0].get("swept") or {}).get("strategy") == "random", evs)
            res = await call(s, "spak_propose", {"run": run, "source": BAD, "tunables": {"BAD": [0, 1, 2, 3, 4]},
                                                 "strategy": "grid", "plateau": 2})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            evs = st.get("evaluations") or []
            check("a sweep stops at its plateau: the best first, then two points that did not improve it, "
                  "and no more",
                  st.get("done") and [e.get("correct") for e in evs][:1] == [True] and len(evs) == 3 and
                  sweep_of(st).startswith("plateau"), text(res))
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "max_points": 3,
                                                 "tunables": {"UNR": [1, 2], "PAD": [0, 1, 2, 3]}})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            evs = st.get("evaluations") or []
            check("a sweep stops at max_points (3 of 8 points), each point distinct",
                  st.get("done") and len(evs) == 3 and len({json.dumps(e.get("tunables")) for e in evs}) == 3 and
                  sweep_of(st).startswith("max_points"), text(res))
            ctx = text(await call(s, "spak_context", {"run": run}))
            check("the next context says what each sweep found: how it ended, its best point, the spread, the "
                  "points tried", "What spak's sweeps of your tunables found" in ctx and "ended: plateau" in ctx
                  and "ended: goal" in ctx and "Best: " in ctx and "Spread of the correct points" in ctx and
                  "BAD=1 failed" in ctx, ctx[:3000])
            try:
                await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [1]},
                                               "strategy": "annealing"})
                check("an unknown sweep strategy is a JSON-RPC error", False)
            except McpError as e:
                check("an unknown sweep strategy is a JSON-RPC error -32602 naming the choices",
                      e.error.code == -32602 and "grid" in e.error.message, e.error.message)


async def budget():
    """spak_context within a budget: the spec's llm context_tokens by default,
    max_tokens given; the LLM prompt's cuts, said by section."""
    spec = os.path.join(T, "mm-budget.spak")
    src = open(SPEC).read().replace('strategy: "default"', 'strategy: "random"')
    src = src.replace("    engineering_loop", "    llm {\n        context_tokens: 2200\n    }\n\n    engineering_loop", 1)
    # a rule whose action names a tunable (spak check warns: not a parameter of the loop); a rules sweep follows it
    src = src.replace("    knowledge {\n", '    knowledge {\n        rule "Unroll by two" {\n            recommend: '
                      '"prefer UNR = 2"\n        }\n\n', 1)
    open(spec, "w").write(src)
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w) as s:
            await s.initialize()
            res = await call(s, "spak_start", {"spec": spec, "budget": 12})
            run = (res.structuredContent or {}).get("run_id")
            check("a spec with strategy random and llm context_tokens starts", bool(run), text(res))
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [1, 2]},
                                                 "max_points": 2})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            evs = st.get("evaluations") or []
            check("a sweep with no strategy given (and none at spak_start) walks with the spec's (random)",
                  st.get("done") and evs and all((e.get("swept") or {}).get("strategy") == "random" for e in evs),
                  text(res))
            res = await call(s, "spak_propose", {"run": run, "source": TUNED, "tunables": {"UNR": [1, 4, 2]},
                                                 "strategy": "rules", "max_points": 1})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p)
            evs = st.get("evaluations") or []
            check("a rules sweep takes first the value the spec's rule prefers for the tunable (UNR = 2)",
                  st.get("done") and [e.get("tunables") for e in evs] == [{"UNR": 2}] and
                  (evs[0].get("swept") or {}).get("strategy") == "rules", text(res))
            res = await call(s, "spak_context", {"run": run})
            c, sc = text(res), res.structuredContent or {}
            tr = sc.get("truncation") or {}
            check("the context is budgeted by default with the spec's llm context_tokens (2200), and says what "
                  "it cut, by section", tr.get("budget_tokens") == 2200 and tr.get("sections_cut") and
                  c.startswith("(The context's budget: 2200 tokens") and "bytes cut" in c and
                  "## Cut to fit the context budget" in c, c[:800])
            res = await call(s, "spak_context", {"run": run, "max_tokens": 200000})
            c = text(res)
            check("a large max_tokens: nothing cut, and it says so",
                  "nothing had to be cut" in c and "[... " not in c and "## Starting point" in c, c[:400])
            res = await call(s, "spak_context", {"run": run, "max_tokens": 300})
            check("a budget below what is never cut (task, ABI, space, reply format) is refused, saying how much "
                  "those need", res.isError and "does not fit 300 tokens" in text(res) and "need about" in text(res),
                  text(res))


def elicitor(action, approve=None):
    asked = []

    async def cb(ctx, p):
        import mcp.types as mt
        asked.append(p)
        return mt.ElicitResult(action=action, content={"approve": approve} if approve is not None else None)
    return cb, asked


async def gate_elicited(action, approve=None):
    """An approval gate put to the person through the client's elicitation:
    its answer applied as spak approve / spak reject would."""
    cb, asked = elicitor(action, approve)
    async with stdio_client(params()) as (r, w):
        async with ClientSession(r, w, elicitation_callback=cb) as s:
            await s.initialize()
            res = await call(s, "spak_start", {"spec": SPEC, "budget": 5, "approve": "llm-code"})
            run = (res.structuredContent or {}).get("run_id")
            res = await call(s, "spak_propose", {"run": run, "source": KERNEL})
            p = (res.structuredContent or {}).get("proposal")
            res, st = await wait_done(s, run, p, timeout=150)
            ev = (st.get("evaluations") or [{}])[0]
            msg = asked[0].message if asked else ""
            what = f"{action}{'' if approve is None else ' approve=' + str(approve)}"
            check(f"elicitation ({what}): the person was asked once, about the llm-code gate, shown the source, "
                  "with a boolean form", len(asked) == 1 and "llm-code" in msg and "spak_matmul" in msg and
                  (asked[0].requestedSchema or {}).get("properties", {}).get("approve", {}).get("type") == "boolean",
                  f"{len(asked)} asked: {msg[:400]}")
            if action == "accept" and approve:
                check("accepted with approve: the kernel is built and judged (as after spak approve)",
                      st.get("done") and ev.get("correct") is True, text(res))
            elif action in ("decline", "accept"):
                check(f"{what}: the kernel is rejected (a recorded failed step, as after spak reject)",
                      st.get("done") and ev.get("status") == "failed" and ev.get("correct") is not True, text(res))
            else:
                res2 = await call(s, "spak_status", {"run": run})
                wf = (res2.structuredContent or {}).get("waiting_for") or ""
                check("cancelled: the gate stays pending, the wait and spak_status name 'spak approve' and say the "
                      "person dismissed it; not asked again", not st.get("done") and
                      "spak approve" in (st.get("waiting_for") or "") and "dismissed" in (st.get("waiting_for") or "")
                      and "spak approve" in wf and "spak approve" in text(res2) and len(asked) == 1,
                      f"{text(res)}\n{text(res2)}")


async def main():
    await lifecycle_and_tools()
    raw_protocol()
    run = await full_cycle()
    await gate()
    await gate_elicited("accept", True)
    await gate_elicited("decline")
    await gate_elicited("cancel")
    await sweeps()
    await budget()
    raw_cancel(run)
    await kill_and_attach(run)
    await kill_both_and_attach(run)
    await stop(run)


try:
    asyncio.run(main())
except Exception as e:  # a crash is a failure, never silence
    import traceback
    check("the SDK session ran to its end", False, traceback.format_exc())
print(f"1..{n}")
sys.exit(1 if failed else 0)
