#!/usr/bin/env python3
"""Validate what `spak export` and `spak compare` wrote against their schemas.

usage: validate.py json SCHEMA FILE        a JSON document against a JSON Schema (draft 2020-12)
       validate.py csv TABLESCHEMA FILE    a CSV against the Table Schema of docs/schemas
                                           (columns, order, types, constraints; param.* columns
                                           where the schema says they go)
Prints one line per problem and exits 1 when there is one, 2 when jsonschema is missing.
"""
import csv
import io
import json
import re
import sys


def validate_json(schema_path, path):
    try:
        import jsonschema
    except ImportError:
        print("python3 jsonschema is missing (scripts/deps.sh --test installs python3-jsonschema)")
        return 2
    schema = json.load(open(schema_path))
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    errs = sorted(v.iter_errors(json.load(open(path))), key=lambda e: list(e.path))
    for e in errs[:20]:
        print("%s: %s" % ("/".join(str(p) for p in e.path) or "(top)", e.message[:300]))
    return 1 if errs else 0


def cell_ok(field, value, true_values, false_values):
    t = field["type"]
    c = field.get("constraints", {})
    if value == "":
        return not c.get("required"), "required but empty"
    if t == "integer":
        if not re.fullmatch(r"-?[0-9]+", value):
            return False, "not an integer"
        if "minimum" in c and int(value) < c["minimum"]:
            return False, "below the minimum"
    elif t == "number":
        try:
            x = float(value)
        except ValueError:
            return False, "not a number"
        if x != x or x in (float("inf"), float("-inf")):
            return False, "not a finite number"
        if "minimum" in c and x < c["minimum"]:
            return False, "below the minimum"
    elif t == "boolean":
        if value not in true_values + false_values:
            return False, "not a boolean"
    if "enum" in c and value not in c["enum"]:
        return False, "not one of %s" % c["enum"]
    if "pattern" in c and not re.fullmatch(c["pattern"], value):
        return False, "does not match %s" % c["pattern"]
    return True, ""


def validate_csv(schema_path, path):
    schema = json.load(open(schema_path))
    fields = schema["fields"]
    raw = open(path, newline="").read()
    problems = []
    if raw and not raw.endswith("\r\n"):
        problems.append("the file does not end in CRLF")
    rows = list(csv.reader(io.StringIO(raw, newline="")))
    if not rows:
        print("no header")
        return 1
    header = rows[0]
    after = [f["name"] for f in fields].index(schema["params_after"]) + 1
    fixed = [f["name"] for f in fields]
    n_params = len(header) - len(fixed)
    params = header[after:after + n_params]
    expect = fixed[:after] + params + fixed[after:]
    if header != expect or not all(re.fullmatch(schema["params_pattern"], p) for p in params):
        problems.append("header %s is not the schema's columns (params after %s)" % (header, schema["params_after"]))
    cols = fields[:after] + [None] * n_params + fields[after:]
    for i, row in enumerate(rows[1:], 2):
        if len(row) != len(header):
            problems.append("row %d has %d fields, the header %d" % (i, len(row), len(header)))
            continue
        for f, v in zip(cols, row):
            if f is None:
                continue
            ok, why = cell_ok(f, v, schema["trueValues"], schema["falseValues"])
            if not ok:
                problems.append("row %d, %s = %r: %s" % (i, f["name"], v, why))
    for p in problems[:20]:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    kind, schema, path = sys.argv[1:4]
    sys.exit(validate_json(schema, path) if kind == "json" else validate_csv(schema, path))
