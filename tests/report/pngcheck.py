#!/usr/bin/env python3
"""pngcheck.py FILE [RRGGBB ...] - decode a PNG with the standard library only
(zlib) and print one JSON object: width, height, the number of distinct
colours, the fraction of the most common colour, and for each RRGGBB given
how many pixels have exactly that colour. Used by tests/suites/report.sh to
tell a rendered page from a blank one. Handles 8-bit RGB/RGBA/grey(+alpha)
and palette images, non-interlaced (what Chromium writes)."""
import json
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, palette = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"PLTE":
            palette = [tuple(body[i:i + 3]) for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    if depth != 8 or interlace:
        raise ValueError("only 8-bit non-interlaced PNGs")
    bpp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    i = 0
    for _ in range(h):
        f = raw[i]
        line = bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + ((a + b) >> 1)) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pr = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[x] = (line[x] + pr) & 255
        rows.append(bytes(line))
        prev = line
    def rgb(row, x):
        o = x * bpp
        if ctype in (2, 6):
            return row[o], row[o + 1], row[o + 2]
        if ctype == 3:
            return palette[row[o]]
        return row[o], row[o], row[o]
    return w, h, rows, rgb


def main():
    w, h, rows, rgb = decode(sys.argv[1])
    want = {t.lower(): 0 for t in sys.argv[2:]}
    counts = {}
    for row in rows:
        for x in range(w):
            px = rgb(row, x)
            counts[px] = counts.get(px, 0) + 1
    for t in want:
        key = (int(t[0:2], 16), int(t[2:4], 16), int(t[4:6], 16))
        want[t] = counts.get(key, 0)
    print(json.dumps({"width": w, "height": h, "colours": len(counts),
                      "top_fraction": max(counts.values()) / float(w * h), "pixels": want}))


main()
