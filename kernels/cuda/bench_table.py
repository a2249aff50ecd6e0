"""bench_table.py - what the CUDA ladder benchmarks' tables share
(gemm/bench.sh, fmha/bench.sh, which import it): the trace records of a
bench log gathered into rows, and the cells' formats. Each script keeps its
own columns."""
import json

PREFIX = "__SPAK_TRACE__ "


def gather(path, section, key):
    """The records of the log at path, by row. section(line, cur) gives the
    current section after a "### ..." line (cur: the one before; None: none);
    key(cur, record) the row of a record in section cur (None: skipped).
    Returns (keys in their first order, {key: {record type: record}})."""
    cur, rows, order = None, {}, []
    for line in open(path, errors="replace"):
        if line.startswith("### "):
            cur = section(line, cur)
            continue
        if not line.startswith(PREFIX) or cur is None:
            continue
        r = json.loads(line[len(PREFIX):])
        if r.get("type") == "Cost":  # where the judge's time went: no row of a table of candidates
            continue
        k = key(cur, r)
        if k is None:
            continue
        if k not in rows:
            rows[k] = {}
            order.append(k)
        rows[k][r["type"]] = r
    return order, rows


def f(x, fmt):
    """x in fmt, or "-" when it is not a number."""
    return fmt % x if isinstance(x, (int, float)) else "-"


def note(c, width):
    """A row's note from its Correctness record c: empty when it passed, else
    SKIP or FAIL and the reason's first width characters; held-out marked."""
    n = "" if c.get("passed") else ("SKIP " if c.get("skipped") else "FAIL ") + c.get("reason", "")[:width]
    if c.get("heldout"):
        n = ("held-out " + n).strip()
    return n
