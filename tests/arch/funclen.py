#!/usr/bin/env python3
"""Print the C functions longer than a limit (#12: none over 150 lines).

usage: funclen.py [--min N] PATH...     (default N = 150; PATH: folders or .c/.h files)

A function's length counts from the line that starts its definition (the first
line of its declaration specifiers: "static int" on a line of its own counts)
to the line of the brace that closes its body. Offenders are printed longest
first, one a line: "LINES FILE:LINE NAME". Exit status 1 when there is one, 0
when there is none, 2 on a usage error.

How a definition is found: comments, string and character literals and
preprocessor lines (with their continuations) are blanked first, keeping line
numbers; then braces are matched over the file. A '{' at file level opens a
function body when the text since the previous file-level ';', '}' or body is
a declarator with a parameter list: it ends with ')' (an attribute or macro
word after it is allowed) and has no '=' outside parentheses (that would be an initializer) and
no struct/union/enum tag being defined. So multi-line signatures, the brace on
the signature's line (K&R style) or on its own line, and old-style parameter
declarations all count the same. Standard library only.
"""
import os
import re
import sys

KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "defined", "__attribute__", "__declspec",
            "_Alignas", "alignas", "__typeof__", "typeof", "_Static_assert",
            # type words, so that "void (*handler(int sig))(int)" is named handler
            "void", "int", "char", "short", "long", "float", "double", "signed", "unsigned", "const",
            "volatile", "static", "inline", "extern", "_Bool", "bool", "restrict", "_Noreturn"}


def blank(src):
    """src with comments, literals and preprocessor lines replaced by spaces
    (newlines kept, so offsets and line numbers do not move)."""
    out = list(src)
    i, n = 0, len(src)
    line_start = True
    while i < n:
        c = src[i]
        if line_start and c in " \t":
            i += 1
            continue
        if line_start and c == "#":
            # a preprocessor line, through its backslash continuations
            while i < n and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    out[i] = " "
                    i += 2
                    continue
                out[i] = " "
                i += 1
            continue
        line_start = False
        if c == "\n":
            line_start = True
            i += 1
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif src.startswith("//", i):
            while i < n and src[i] != "\n":
                out[i] = " "
                i += 1
        elif c in "\"'":
            out[i] = " "
            i += 1
            while i < n and src[i] != c and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n:
                    out[i] = " "
                    i += 1
                    if src[i] == "\n":
                        i += 1
                        continue
                out[i] = " "
                i += 1
            if i < n and src[i] == c:
                out[i] = " "
                i += 1
        else:
            i += 1
    return "".join(out)


def is_function_head(head):
    """True when head (the file-level text before a '{') declares a function."""
    h = re.sub(r"__attribute__\s*\(\(.*?\)\)", " ", head, flags=re.S).strip()
    # ends with the parameter list, with an attribute macro after it
    # ("void die(void) NORETURN"), or with old-style parameter declarations
    if not h.endswith((")", ";")) and not re.search(r"\)\s*[A-Za-z_]\w*$", h):
        return False
    if re.search(r"\b(struct|union|enum)\s+\w*\s*$", h) or re.match(r"^(typedef\b)", h):
        return False
    depth = 0
    for ch in h:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "=" and depth == 0:
            return False
    return "(" in h


def function_name(head):
    for m in re.finditer(r"(\w+)\s*\(", head):
        if m.group(1) not in KEYWORDS:
            return m.group(1)
    return "?"


def functions(path):
    """(length, start line, name, head) of each function defined in the file;
    head is its blanked declaration text (tests/arch/cycles.py reads 'static')."""
    with open(path, encoding="utf-8", errors="replace") as f:
        src = f.read()
    text = blank(src)
    found = []
    depth = 0
    head_start = 0  # offset where the current file-level declaration began
    body_open = None
    i = 0
    while i < len(text):
        c = text[i]
        if c == "{":
            if depth == 0:
                head = text[head_start:i]
                if is_function_head(head):
                    first = head_start + (len(head) - len(head.lstrip()))
                    body_open = (first, function_name(head), head)
                else:
                    body_open = None
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if body_open:
                    first, name, head = body_open
                    start_line = text.count("\n", 0, first) + 1
                    end_line = text.count("\n", 0, i) + 1
                    found.append((end_line - start_line + 1, start_line, name, head))
                body_open = None
                head_start = i + 1
            depth = max(depth, 0)
        elif c == ";" and depth == 0:
            # a file-level declaration ends, except an old-style (K&R) parameter
            # declaration: "int f(a, b) int a; int b; {" keeps the head going
            # (an identifier after the parameter list's ')'; a prototype
            # "int f(void);" has none)
            if not re.search(r"\)\s*[A-Za-z_][^()]*$", text[head_start:i]) or "=" in text[head_start:i]:
                head_start = i + 1
        i += 1
    return found


def c_files(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for dp, dn, fn in os.walk(p):
            dn.sort()
            for f in sorted(fn):
                if f.endswith((".c", ".h")):
                    yield os.path.join(dp, f)


def main(argv):
    limit = 150
    if len(argv) >= 2 and argv[0] == "--min":
        try:
            limit = int(argv[1])
        except ValueError:
            print("funclen.py: --min wants a number", file=sys.stderr)
            return 2
        argv = argv[2:]
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    res = []
    for path in c_files(argv):
        for length, line, name, _ in functions(path):
            if length > limit:
                res.append((length, path, line, name))
    res.sort(key=lambda r: (-r[0], r[1], r[2]))
    for length, path, line, name in res:
        print(f"{length} {path}:{line} {name}")
    return 1 if res else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
