"""Multiply-adds per pixel of the entropy model, counted from model configs.

    python benchmarks/prior_macs.py [MODEL ...] [--out benchmarks/results/fast_prior/prior_macs.json]

MODEL: installed names or .json paths (default: the shipped default and the
previous default kept for its streams, vqcodec/weights/legacy/default-v4.json).
The count comes from vqcodec.bench.prior_cost (tests/test_prior_cost.py checks
it against the matrix products a coding pass really runs). Prints a Markdown
table and writes the JSON.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*",
                    default=["default", str(ROOT / "vqcodec" / "weights" / "legacy" / "default-v4.json")])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fast_prior" / "prior_macs.json")
    a = ap.parse_args()
    from vqcodec.bench.prior_cost import prior_macs
    from vqcodec.zoo import resolve

    rows = []
    for name in a.models:
        cfg = resolve(name).config()
        rows.append({"model": Path(name).stem if name.endswith(".json") else name, "prior": cfg.prior.kind,
                     **prior_macs(cfg)})
    print("| model | prior | context / position | passes / position | per latent position | per pixel |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['model']} | {r['prior']} | {r['context']:,} | {r['passes']:,} | "
              f"{r['per_latent_position']:,} | {r['per_pixel']:,.0f} |")
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps({"command": "python benchmarks/prior_macs.py " + " ".join(sys.argv[1:]),
                                 "models": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
