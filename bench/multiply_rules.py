#!/usr/bin/env python3
"""Write COPIES versions of every Sigma rule under SRC into OUT, for measuring
how matching cost grows with the size of the rule set.

Copy 0 is the rule file unchanged. Copies 1..COPIES-1 get a new id (a UUID5
of the old id and the copy number) and " (variation K)" after the title.
Every string value in their detection section becomes a distinct predicate.
"~vK" is appended to plain, contains, startswith and endswith values, and a
regular expression R becomes "(?:R)~vK". Numbers, booleans, nulls and values
of the cidr, exists, fieldref and comparison (lt, lte, gt, gte) modifiers are
kept, because changing them could make the rule invalid. Conditions are kept.

Copy K of SRC/a/b.yml is written to OUT/vK/a/b.yml. Needs PyYAML (Debian
package python3-yaml).

Usage: multiply_rules.py SRC OUT COPIES
"""
import re
import shutil
import sys
import uuid
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("multiply_rules.py: PyYAML is missing; install the Debian package python3-yaml")

NAMESPACE = uuid.UUID("6f1d3c52-3f0e-4f7b-9a44-5b3c2d1e0a77")
KEPT_MODIFIERS = {"cidr", "exists", "fieldref", "lt", "lte", "gt", "gte", "expand"}


class CoreLoader(yaml.SafeLoader):
    """A SafeLoader that resolves scalars close to YAML 1.2's core schema:
    only decimal integers without leading zeros, decimal floats, true/false
    and null get a type. Values such as 0x1010, 00000429, yes or 2023-01-01
    stay strings, where PyYAML's YAML 1.1 rules would turn them into numbers,
    booleans or dates."""


CoreLoader.yaml_implicit_resolvers = {}
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."))
CoreLoader.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])


def vary_value(value, modifiers, copy):
    """Return `value` changed into a distinct predicate for copy `copy`."""
    if isinstance(value, list):
        return [vary_value(v, modifiers, copy) for v in value]
    if not isinstance(value, str) or modifiers & KEPT_MODIFIERS:
        return value
    if "re" in modifiers:
        return f"(?:{value})~v{copy}"
    return f"{value}~v{copy}"


def vary_selection(selection, copy):
    """Return a detection selection (field map, list or keyword) with its
    string values varied."""
    if isinstance(selection, dict):
        out = {}
        for key, value in selection.items():
            modifiers = set(str(key).split("|")[1:])
            out[key] = vary_value(value, modifiers, copy)
        return out
    if isinstance(selection, list):
        return [vary_selection(item, copy) for item in selection]
    return vary_value(selection, set(), copy)


def vary_document(doc, copy):
    if not isinstance(doc, dict):
        return doc
    doc = dict(doc)
    if "id" in doc:
        doc["id"] = str(uuid.uuid5(NAMESPACE, f"{doc['id']}/{copy}"))
    if isinstance(doc.get("title"), str):
        doc["title"] = f"{doc['title']} (variation {copy})"
    if isinstance(doc.get("name"), str):
        doc["name"] = f"{doc['name']}_v{copy}"
    detection = doc.get("detection")
    if isinstance(detection, dict):
        doc["detection"] = {
            key: value if key in ("condition", "timeframe") else vary_selection(value, copy)
            for key, value in detection.items()
        }
    return doc


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: multiply_rules.py SRC OUT COPIES")
    src, out, copies = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    files = sorted(p for p in src.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
    if not files:
        sys.exit(f"multiply_rules.py: no .yml or .yaml files under {src}")
    written = failed = 0
    for path in files:
        rel = path.relative_to(src)
        target = out / "v0" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        try:
            docs = list(yaml.load_all(path.read_text(encoding="utf-8"), Loader=CoreLoader))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            print(f"multiply_rules.py: {path}: not varied, the YAML cannot be read: {error}", file=sys.stderr)
            failed += 1
            continue
        for copy in range(1, copies):
            target = out / f"v{copy}" / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            varied = [vary_document(doc, copy) for doc in docs]
            target.write_text(
                yaml.safe_dump_all(varied, sort_keys=False, allow_unicode=True, width=1 << 16),
                encoding="utf-8")
            written += 1
    print(f"multiply_rules.py: {len(files)} rule files, {written} variations written to {out}"
          f" ({failed} files copied only)", file=sys.stderr)


if __name__ == "__main__":
    main()
