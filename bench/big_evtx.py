#!/usr/bin/env python3
"""Writes one large EVTX file made of the chunks of smaller ones.

    bench/big_evtx.py OUT SIZE_MB FOLDER...

EVTX chunks carry their own string and template tables, so the 64 KiB
chunks of the sample files can follow one file header: the result is a
valid log of SIZE_MB that repeats the samples' events. bench/run uses it
to measure peak memory on one large file.
"""
import pathlib
import sys

HEADER, CHUNK = 4096, 65536


def main() -> int:
    if len(sys.argv) < 4:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out, size = pathlib.Path(sys.argv[1]), int(sys.argv[2]) << 20
    sources = sorted(p for folder in sys.argv[3:] for p in pathlib.Path(folder).rglob("*.evtx"))
    header, chunks = None, []
    for path in sources:
        data = path.read_bytes()
        if len(data) < HEADER + CHUNK or data[:8] != b"ElfFile\0":
            continue
        header = header or data[:HEADER]
        chunks += [data[at:at + CHUNK] for at in range(HEADER, len(data) - CHUNK + 1, CHUNK)
                   if data[at:at + 8] == b"ElfChnk\0"]
    if not chunks:
        print(f"big_evtx.py: no EVTX chunks found under {' '.join(sys.argv[3:])}; pass folders that hold .evtx files", file=sys.stderr)
        return 1
    written = 0
    with out.open("wb") as f:
        f.write(header)
        while written < size:
            for chunk in chunks:
                f.write(chunk)
                written += CHUNK
                if written >= size:
                    break
    print(f"big_evtx.py: wrote {written // CHUNK} chunks ({(HEADER + written) / 1e6:.1f} MB) to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
