#!/usr/bin/env python3
"""Edits the dynamic section of an x86-64 ELF shared library or executable in place.

    python3 scripts/elf_edit.py FILE [--drop-needed LIB]... [--rpath PATH]

--drop-needed LIB removes the DT_NEEDED entry of LIB *and* its symbol-version
requirements (.gnu.version_r; the symbols that used them become unversioned),
which `patchelf --remove-needed` leaves behind (the dynamic loader then aborts
with "Assertion `needed != NULL' failed"). The undefined symbols that LIB
provided stay undefined: they are bound lazily, so the library loads, and only
a call to one of them would fail.

--rpath PATH replaces the DT_RPATH/DT_RUNPATH string; PATH may not be longer
than the string it replaces (it is written in place).

`make dist` uses it on the copy of libtorch_cpu.so of PyTorch's CUDA wheel,
which needs libcudart and libcupti for its CUDA profiler and device queries
only: without them, the CPU-only distribution ships no CUDA library.
"""
import argparse
import struct
import sys

DT_NULL, DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 0, 1, 5, 15, 29
DT_VERNEED, DT_VERNEEDNUM = 0x6FFFFFFE, 0x6FFFFFFF
SHT_DYNAMIC, SHT_VERNEED, SHT_VERSYM = 6, 0x6FFFFFFE, 0x6FFFFFFF


class Elf:
    def __init__(self, data):
        if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
            sys.exit("elf_edit: not a 64-bit little-endian ELF file")
        self.data = data
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
        self.sections = []
        for i in range(shnum):
            name, kind, flags, addr, off, size, link, info, align, entsize = struct.unpack_from(
                "<IIQQQQIIQQ", data, shoff + i * shentsize
            )
            self.sections.append(dict(index=i, header=shoff + i * shentsize, kind=kind, addr=addr, off=off,
                                      size=size, link=link, entsize=entsize))

    def section(self, kind):
        return next((s for s in self.sections if s["kind"] == kind), None)

    def string(self, strtab, offset):
        start = strtab["off"] + offset
        return bytes(self.data[start : self.data.index(b"\0", start)]).decode()


def dynamic_entries(elf, dynamic):
    entries = []
    for i in range(dynamic["size"] // 16):
        tag, val = struct.unpack_from("<qQ", elf.data, dynamic["off"] + 16 * i)
        entries.append([tag, val])
        if tag == DT_NULL:
            break
    return entries


def write_dynamic(elf, dynamic, entries):
    slots = dynamic["size"] // 16
    entries = [e for e in entries if e[0] != DT_NULL] + [[DT_NULL, 0]] * (slots - len(entries) + 1)
    for i, (tag, val) in enumerate(entries[:slots]):
        struct.pack_into("<qQ", elf.data, dynamic["off"] + 16 * i, tag, val)


def drop_version_needs(elf, entries, strtab, drop):
    """Unlinks the .gnu.version_r entries of the dropped libraries; returns their version indices."""
    verneed, versym = elf.section(SHT_VERNEED), elf.section(SHT_VERSYM)
    if verneed is None:
        return
    chain, off = [], verneed["off"]
    while True:
        _, cnt, file, aux, nxt = struct.unpack_from("<HHIII", elf.data, off)
        indices, a = [], off + aux
        for _ in range(cnt):
            _, _, other, _, anext = struct.unpack_from("<IHHII", elf.data, a)
            indices.append(other)
            a += anext
        chain.append((off, elf.string(strtab, file), indices))
        if nxt == 0:
            break
        off += nxt
    kept = [c for c in chain if c[1] not in drop]
    dropped = {i for c in chain if c[1] in drop for i in c[2]}
    for (off, _, _), following in zip(kept, kept[1:] + [None]):
        struct.pack_into("<I", elf.data, off + 12, following[0] - off if following else 0)
    for e in entries:
        if e[0] == DT_VERNEED and kept:
            e[1] = verneed["addr"] + (kept[0][0] - verneed["off"])
        if e[0] == DT_VERNEEDNUM:
            e[1] = len(kept)
    if kept:
        struct.pack_into("<Q", elf.data, verneed["header"] + 0x10, verneed["addr"] + kept[0][0] - verneed["off"])
        struct.pack_into("<Q", elf.data, verneed["header"] + 0x18, kept[0][0])
    struct.pack_into("<I", elf.data, verneed["header"] + 0x2C, len(kept))
    if versym is not None:
        for i in range(versym["size"] // 2):
            at = versym["off"] + 2 * i
            v, = struct.unpack_from("<H", elf.data, at)
            if v & 0x7FFF in dropped:
                struct.pack_into("<H", elf.data, at, 1)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("--drop-needed", action="append", default=[])
    p.add_argument("--rpath")
    a = p.parse_args()
    with open(a.file, "rb") as f:
        elf = Elf(bytearray(f.read()))
    dynamic = elf.section(SHT_DYNAMIC)
    strtab = elf.sections[dynamic["link"]]
    entries = dynamic_entries(elf, dynamic)
    drop = set(a.drop_needed)
    needed = {elf.string(strtab, v) for t, v in entries if t == DT_NEEDED}
    missing = drop - needed
    if missing:
        sys.exit(f"elf_edit: {a.file} does not need {', '.join(sorted(missing))}")
    entries = [e for e in entries if not (e[0] == DT_NEEDED and elf.string(strtab, e[1]) in drop)]
    drop_version_needs(elf, entries, strtab, drop)
    if a.rpath is not None:
        paths = [e for e in entries if e[0] in (DT_RPATH, DT_RUNPATH)]
        if not paths:
            sys.exit(f"elf_edit: {a.file} has no RPATH or RUNPATH to replace")
        for _, v in paths:
            old = elf.string(strtab, v)
            new = a.rpath.encode()
            if len(new) > len(old):
                sys.exit(f"elf_edit: new rpath {a.rpath!r} is longer than the old one {old!r}")
            start = strtab["off"] + v
            elf.data[start : start + len(old)] = new + b"\0" * (len(old) - len(new))
    write_dynamic(elf, dynamic, entries)
    with open(a.file, "wb") as f:
        f.write(elf.data)


if __name__ == "__main__":
    main()
