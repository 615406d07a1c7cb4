#!/usr/bin/env python3
"""Writes image INDEX of an IDX image file (gzipped or raw) as a grayscale PNG,
with the standard library only, and prints its label when a label file is given.

    python3 scripts/idx_to_png.py data/mnist-sample/t10k-images-idx3-ubyte.gz 0 digit.png \\
        [--labels data/mnist-sample/t10k-labels-idx1-ubyte.gz] [--scale 4] [--invert]
"""

import argparse
import gzip
import struct
import zlib
from pathlib import Path


def read_idx(path):
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[:3] != b"\x00\x00\x08":
        raise SystemExit(f"{path}: not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    return dims, raw[4 + 4 * ndim:]


def write_png(path, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(row) for row in rows)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("images")
    parser.add_argument("index", type=int)
    parser.add_argument("png")
    parser.add_argument("--labels")
    parser.add_argument("--scale", type=int, default=1, help="enlarge each pixel to SCALE x SCALE")
    parser.add_argument("--invert", action="store_true", help="black digit on white")
    args = parser.parse_args()
    (count, h, w), pixels = read_idx(args.images)
    if not 0 <= args.index < count:
        raise SystemExit(f"{args.images}: index {args.index} out of range 0..{count}")
    image = pixels[args.index * h * w:(args.index + 1) * h * w]
    rows = []
    for r in range(h):
        row = [255 - p if args.invert else p for p in image[r * w:(r + 1) * w]]
        row = [p for p in row for _ in range(args.scale)]
        rows += [row] * args.scale
    write_png(args.png, rows)
    if args.labels:
        _, labels = read_idx(args.labels)
        print(f"{args.png}: label {labels[args.index]}")


if __name__ == "__main__":
    main()
