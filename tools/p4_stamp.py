"""Stamps compiled P4 artifacts with the sha256 of the sources they came from.

`make p4` writes the stamp after p4c runs; a test recomputes it, so artifacts
that no longer match their sources (someone edited a .p4 file and did not
rebuild) fail `make test` instead of landing.

    python -m tools.p4_stamp write STAMP --p4c-version V SOURCE... --artifact A...
    python -m tools.p4_stamp check STAMP
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_stamp(
    stamp: Path, sources: list[Path], artifacts: list[Path], p4c_version: str
) -> dict:
    base = stamp.parent
    doc = {
        "p4c_version": p4c_version,
        "sources": {
            str(p.resolve().relative_to(base.resolve().parent)): sha256_of(p)
            for p in sorted(sources)
        },
        "artifacts": {
            str(p.resolve().relative_to(base.resolve().parent)): sha256_of(p)
            for p in sorted(artifacts)
        },
    }
    stamp.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return doc


def stale_entries(stamp: Path) -> list[str]:
    """Files whose content differs from the stamp, plus sources not stamped.

    Paths in the stamp are relative to the stamp's grandparent (the folder
    holding the .p4 sources and build/).
    """
    doc = json.loads(stamp.read_text())
    root = stamp.parent.parent
    problems = []
    for section in ("sources", "artifacts"):
        for rel, digest in doc[section].items():
            path = root / rel
            if not path.exists():
                problems.append(f"{rel}: missing")
            elif sha256_of(path) != digest:
                problems.append(f"{rel}: changed since `make p4`")
    stamped = set(doc["sources"])
    for p in sorted(root.glob("*.p4")):
        rel = str(p.relative_to(root))
        if rel not in stamped:
            problems.append(f"{rel}: not compiled into the stamped artifacts")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="p4_stamp")
    sub = parser.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("stamp", type=Path)
    w.add_argument("--p4c-version", required=True)
    w.add_argument("--artifact", type=Path, action="append", default=[])
    w.add_argument("sources", type=Path, nargs="+")
    c = sub.add_parser("check")
    c.add_argument("stamp", type=Path)
    args = parser.parse_args(argv)
    if args.cmd == "write":
        write_stamp(args.stamp, args.sources, args.artifact, args.p4c_version)
        return 0
    problems = stale_entries(args.stamp)
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
