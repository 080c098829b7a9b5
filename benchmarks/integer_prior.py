"""What the integer prior costs (issue 7): rate and speed, float prior (format v3) vs
integer prior (format v4), on the same tokens.

    python benchmarks/integer_prior.py [--qualities 1,4,8] [--frames 16] [--model default]
                                       [--out benchmarks/results/integer_prior]

For each clip (carphone_pristine 176x144, a CIF synthetic pan, bikes 352x272) the
autoencoder turns the first --frames frames into tokens once; then the tokens are
coded with each arithmetic exactly as a stream codes them (GOP by GOP, prior
context carried and reset every intra period) and decoded back. Reported:

    bytes        payload bytes of all GOPs (the container is the same for both); the
                 range coder writes 32-bit words, so small differences vanish here
    rate change  integer / float - 1 of the bytes: what integer arithmetic costs
    ideal change the same for the sum of -log2 p of the coded tokens under each
                 prior's own logits (the float softmax of float or fixed-point
                 logits): the difference the word granularity hides
    enc s, dec s wall seconds of the entropy-coding stage (prior + tables + range coder)
    dec fps      frames / (entropy decoding + autoencoder decoding): the decoder's speed

and checks that each arithmetic decodes its own payload to the coded tokens.
Timings are wall clock, torch threads as set (default 2); run on an idle machine.
Writes integer_prior.json and integer_prior.md in --out and prints the table.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "integer_prior"
ARITHMETIC = {"float (v3)": 3, "integer (v4)": 4}


def clips(frames: int) -> dict[str, np.ndarray]:
    from vqcodec.bench.clips import load_clip
    from vqcodec.bench.scenes import pan_scene

    return {
        "carphone_pristine 176x144": load_clip("carphone_pristine.mp4", frames).frames,
        "synthetic pan 352x288": pan_scene(frames, 352, 288),
        "bikes 352x272": load_clip("bikes.mp4", frames, (352, 272)).frames,
    }


def code(codec, gops: list[np.ndarray], version: int) -> dict:
    """Entropy-code token GOPs (T', L, h, w) the way a full-mode stream does, and back."""
    per_period = codec.config.intra_period // codec.config.gop
    h, w = gops[0].shape[2:]
    payloads, ideal, t0 = [], 0.0, time.perf_counter()
    for i, tokens in enumerate(gops):
        if i % per_period == 0:
            prev = codec.empty_context(h, w)
        payload, bits, prev = codec.encode_payload(tokens, prev, version)
        payloads.append(payload)
        ideal += bits
    enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i, (tokens, payload) in enumerate(zip(gops, payloads)):
        if i % per_period == 0:
            prev = codec.empty_context(h, w)
        back, prev = codec.decode_payload(payload, tokens.shape[0], tokens.shape[1], prev, version)
        if not np.array_equal(back, tokens):
            raise SystemExit(f"version {version}: GOP {i} does not decode to its tokens")
    dec = time.perf_counter() - t0
    return {"bytes": sum(len(p) for p in payloads), "ideal_bits": ideal, "enc_s": enc, "dec_s": dec}


def measure(codec, name: str, frames: np.ndarray, quality: int) -> dict:
    g = codec.config.gop
    gops = [codec.encode_tokens(codec.padded(frames[i:i + g]), quality) for i in range(0, len(frames), g)]
    t0 = time.perf_counter()
    for tokens in gops:
        codec.decode_tokens(tokens)
    ae_dec = time.perf_counter() - t0
    row = {"clip": name, "quality": quality, "frames": len(frames), "autoencoder_dec_s": ae_dec}
    for label, version in ARITHMETIC.items():
        r = code(codec, gops, version)
        r["dec_fps"] = len(frames) / (r["dec_s"] + ae_dec)
        row[label] = r
    f, i = row["float (v3)"], row["integer (v4)"]
    row["rate_change"] = i["bytes"] / f["bytes"] - 1
    row["ideal_bits_change"] = i["ideal_bits"] / f["ideal_bits"] - 1
    return row


def markdown(doc: dict) -> str:
    lines = [f"# Integer prior vs float prior — model `{doc['model']}`", "",
             f"{doc['date']}, `{doc['command']}`; {doc['machine']}, torch threads {doc['threads']}.", "",
             "Same tokens, coded as a full-mode stream codes them. Rate change: integer bytes / float bytes - 1. "
             "Seconds: the entropy-coding stage (prior, tables, range coder); dec fps adds the autoencoder's decoding.",
             "", "| clip | q | frames | float bytes | integer bytes | rate change | float enc s | integer enc s "
             "| float dec s | integer dec s | float dec fps | integer dec fps | ideal bits change |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in doc["rows"]:
        f, i = r["float (v3)"], r["integer (v4)"]
        lines.append(f"| {r['clip']} | {r['quality']} | {r['frames']} | {f['bytes']} | {i['bytes']} "
                     f"| {100 * r['rate_change']:+.3f} % | {f['enc_s']:.2f} | {i['enc_s']:.2f} | {f['dec_s']:.2f} "
                     f"| {i['dec_s']:.2f} | {f['dec_fps']:.2f} | {i['dec_fps']:.2f} | {100 * r['ideal_bits_change']:+.4f} % |")
    tf = sum(r["float (v3)"]["dec_s"] for r in doc["rows"])
    ti = sum(r["integer (v4)"]["dec_s"] for r in doc["rows"])
    bf = sum(r["float (v3)"]["bytes"] for r in doc["rows"])
    bi = sum(r["integer (v4)"]["bytes"] for r in doc["rows"])
    lines += ["", f"All rows: integer bytes / float bytes - 1 = {100 * (bi / bf - 1):+.3f} %; "
              f"entropy decoding time integer / float = {ti / tf:.2f}x."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--qualities", default="1,4,8")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = ap.parse_args()

    import torch

    from vqcodec.zoo import load_codec

    codec = load_codec(args.model)
    rows = []
    for name, frames in clips(args.frames).items():
        for q in (int(x) for x in args.qualities.split(",")):
            rows.append(measure(codec, name, frames, q))
            r = rows[-1]
            print(f"{name} q{q}: rate {100 * r['rate_change']:+.3f} %, dec s float "
                  f"{r['float (v3)']['dec_s']:.2f} integer {r['integer (v4)']['dec_s']:.2f}", flush=True)
    doc = {"model": args.model, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "command": "python benchmarks/integer_prior.py" + "".join(
               f" --{k} {v}" for k, v in (("qualities", args.qualities), ("frames", args.frames))
               if v != ap.get_default(k)),
           "machine": f"{platform.platform()}, {os.cpu_count()} CPUs", "threads": torch.get_num_threads(),
           "load_average": os.getloadavg(), "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "integer_prior.json").write_text(json.dumps(doc, indent=2) + "\n")
    md = markdown(doc)
    (args.out / "integer_prior.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
