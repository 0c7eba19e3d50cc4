#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets from the shared corpus.

Usage: fuzz-seeds.py CORPUS_DIR OUT_DIR

OUT_DIR/<target>/ gets small files: rule files, condition strings, JSON
records, single EVTX chunks and rule+event pairs (rule YAML, a NUL byte, one
JSON event). Nothing is written into the repository.
"""
import hashlib
import json
import random
import re
import sys
from pathlib import Path

CHUNK = 65536
FILE_HEADER = 4096


def save(out: Path, target: str, data: bytes) -> None:
    folder = out / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def main() -> int:
    corpus, out = Path(sys.argv[1]), Path(sys.argv[2])
    rng = random.Random(1)

    rules = sorted((corpus / "sigma").rglob("*.yml"))
    for path in rng.sample(rules, min(1500, len(rules))):
        data = path.read_bytes()
        save(out, "rule_loader", data)
        for match in re.finditer(rb"^\s*condition:\s*(.+)$", data, re.M):
            save(out, "condition", match.group(1).strip().strip(b"'\""))

    for path in sorted((corpus / "json").rglob("*")):
        if not path.is_file() or path.suffix not in (".json", ".log", ".jsonl"):
            continue
        with path.open("rb") as f:
            head = f.read(200_000)
        lines = [line for line in head.split(b"\n")[:-1] if line.strip()]
        for line in lines[:20]:
            save(out, "json", line + b"\n")
        if lines:
            save(out, "json", b"\n".join(lines[:5]) + b"\n")

    for path in sorted((corpus / "evtx").rglob("*.evtx")):
        data = path.read_bytes()
        chunks = max(0, (len(data) - FILE_HEADER) // CHUNK)
        for index in range(min(chunks, 2)):
            chunk = data[FILE_HEADER + index * CHUNK:FILE_HEADER + (index + 1) * CHUNK]
            if chunk.startswith(b"ElfChnk\0"):
                save(out, "evtx", chunk)

    cases = corpus / "sigma-regression" / "cases.json"
    if cases.exists():
        index = json.loads(cases.read_text())
        for case in index["cases"]:
            try:
                rule = (corpus / "sigma" / case["rules"][0]["rule_path"]).read_bytes()
            except (KeyError, IndexError, OSError):
                continue
            for event_path in (corpus / "sigma-regression" / case["case_dir"]).glob("*.json"):
                try:
                    event = json.loads(event_path.read_text())
                except (OSError, ValueError):
                    continue
                events = event if isinstance(event, list) else [event]
                for e in events[:2]:
                    save(out, "match", rule + b"\0" + json.dumps(e, separators=(",", ":")).encode())
                # The same rule under a correlation, so the fuzzer reaches the
                # correlation planner and evaluator too.
                rule_id = re.search(rb"^id:\s*(\S+)", rule, re.M)
                if rule_id and events:
                    correlation = (b"\n---\ntitle: seed correlation\nid: 00000000-0000-4000-8000-00000000c0de\n"
                                   b"correlation:\n  type: event_count\n  rules: [" + rule_id.group(1) + b"]\n"
                                   b"  group-by: [Computer]\n  timespan: 1h\n  condition:\n    gte: 1\n")
                    save(out, "match", rule + correlation + b"\0" + json.dumps(events[0], separators=(",", ":")).encode())
    for target in ("rule_loader", "condition", "json", "evtx", "match"):
        count = len(list((out / target).glob("*"))) if (out / target).exists() else 0
        print(f"fuzz-seeds: {target}: {count} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
