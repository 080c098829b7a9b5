"""Where a fast prior's bits go: flags against residuals, pass by pass, on the tokens the encoder codes.

    python benchmarks/prior_bits.py [--model default] [--clip carphone_pristine.mp4] [--qualities 1,5,9]
                                    [--tables-from bikes.mp4:0-0.5]
                                    [--out benchmarks/results/fast_prior/prior_bits.json]

The clip is compressed at each quality as `vqcodec compress` would
(rate-distortion rounding included); every token the encoder codes is
recorded with its prior context (the previous latent frame, MASK at an
intra start). The model's fast prior then scores those tokens pass by pass
with its training arithmetic (FastPrior.pass_outputs, as training_loss, which
tests/test_fast_prior.py checks against the coder's ideal bits), split into:

- flag bits: "the token equals its base" (the previous latent frame's token
  there, the zero symbol at an intra start), paid by every token;
- residual bits: the discretized Laplace of the tokens that do not, with the
  mean rounded as the coder does;
- the same residuals with the mean not rounded (what rounding costs);
- the residuals' empirical entropy per scale table (r = token - rounded mean,
  counted per scale index): what ideal per-scale tables would spend, an
  in-sample bound that ignores the tables' own cost;
- with --tables-from CLIP (training footage, at most 96 frames centre-cropped
  to 352x272; an evaluation clip is refused), the residuals under per-scale
  tables counted on CLIP's tokens: an out-of-sample estimate of what learned
  tables would spend (table_bits).

Intra and inter (predicted) latent frames are reported apart. Writes the JSON
at --out and a Markdown table beside it (.md).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from fractions import Fraction
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent


def recorded_tokens(codec, clip, quality: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """-> (tokens (N, C, h, w), their prior contexts (N, C, h, w), stream bytes)."""
    from vqcodec.api import compress

    record, encode = [], codec.encode_payload

    def recording(tokens, prev, *args, **kw):  # tokens are final once encode_payload returns
        out = encode(tokens, prev, *args, **kw)
        record.append((torch.from_numpy(tokens.copy()), prev.clone()))
        return out
    codec.encode_payload = recording
    try:
        buf = io.BytesIO()
        compress(iter(clip.frames), buf, clip.width, clip.height, Fraction(clip.fps), quality, model=codec)
    finally:
        del codec.encode_payload
    tokens = torch.cat([t for t, _ in record])
    prev = torch.cat([torch.cat([p[None], t[:-1]]) for t, p in record])  # each GOP starts from its context
    return tokens, prev, len(buf.getvalue())


@torch.no_grad()
def split_bits(prior, cur: torch.Tensor, prev: torch.Tensor, quality: int) -> dict:
    """Bits of tokens cur (N, C, h, w) given prev, by part (see the module doc), per pass."""
    from vqcodec.models import laplace

    passes, kept = [], []
    outputs = prior.pass_outputs(cur, prev, torch.full((cur.shape[0],), quality))
    for index, (a, b, _, v, base, f, mu, l) in enumerate(outputs):  # index = 2 x group + parity
        total = laplace.bits(v, base, f, mu, l, prior.half)
        changed = v != base
        residual = laplace.laplace_bits(v, mu, l, prior.half)[changed]
        j = laplace.scale_index(l)  # the coder's table choice
        s = torch.exp(laplace.LOG_MIN + j * laplace.LOG_STEP)

        def cdf(x):  # Laplace(0, s)
            return torch.where(x < 0, 0.5 * torch.exp(x / s), 1 - 0.5 * torch.exp(-x / s))
        unrounded = -torch.log2((cdf(v - mu + 0.5) - cdf(v - mu - 0.5)).clamp_min(laplace.MIN_PROB))[changed]
        r, jr, empirical = (v - torch.round(mu))[changed], j[changed], 0.0
        kept.append(torch.stack([jr, r, residual]))
        for k in torch.unique(jr):
            _, count = torch.unique(r[jr == k], return_counts=True)
            empirical -= (count * torch.log2(count / count.sum())).sum().item()
        passes.append({"pass": index, "channels": [a, b], "parity": index % 2, "tokens": v.numel(),
                       "changed": int(changed.sum()), "bits": total.sum().item(),
                       "flag_bits": total.sum().item() - residual.sum().item(),
                       "residual_bits": residual.sum().item(), "residual_bits_unrounded_mean": unrounded.sum().item(),
                       "residual_bits_empirical_per_scale": empirical})
    return {k: sum(p[k] for p in passes) for k in passes[0] if k not in ("pass", "channels", "parity")} | {
        "passes": passes, "residuals": torch.cat(kept, 1)}  # (3, changed): scale index, r, Laplace bits


def table_bits(fit: torch.Tensor, test: torch.Tensor) -> float:
    """Bits of the residuals `test` under per-scale tables counted on `fit` (both
    split_bits' (3, n) residuals): per scale index with at least 50 residuals, 90 %
    of the counts (plus a half each over 256 symbols) and 10 % of the Laplace; the
    Laplace alone elsewhere. An estimate of what learned tables would spend."""
    total = 0.0
    for k in torch.unique(test[0]):
        t, f = test[:, test[0] == k], fit[1, fit[0] == k]
        if f.numel() < 50:
            total += t[2].sum().item()
            continue
        values, counts = torch.unique(f, return_counts=True)
        hit = (t[1][:, None] == values[None]).float() @ counts.double().float()  # counts of each test r
        p = 0.9 * (hit + 0.5) / (f.numel() + 128) + 0.1 * torch.exp2(-t[2])
        total -= torch.log2(p).sum().item()
    return total


def markdown(doc: dict) -> str:
    lines = [f"# Where the fast prior's bits go ({doc['model']}, {doc['clip']})", "",
             f"`{doc['command']}`, {doc['date']}. Bits of the tokens the encoder coded, scored by the prior's "
             "training arithmetic (within 1-3 % of the coder's ideal bits).", "",
             "| quality | frames | latent frames | bits | flags | residuals | residuals, mean not rounded | "
             "residuals, ideal per-scale tables | residuals, tables counted on --tables-from | tokens changed | "
             "stream bytes |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in doc["rows"]:
        for kind in ("intra", "inter"):
            r = row[kind]
            if r is None:
                continue
            lines.append(f"| {row['quality']} | {kind} | {r['latent_frames']} | {r['bits']:,.0f} | "
                         f"{r['flag_bits']:,.0f} ({r['flag_bits'] / r['bits']:.0%}) | {r['residual_bits']:,.0f} | "
                         f"{r['residual_bits_unrounded_mean']:,.0f} | {r['residual_bits_empirical_per_scale']:,.0f} | "
                         f"{format(r['residual_bits_fitted_tables'], ',.0f') if 'residual_bits_fitted_tables' in r else '-'} | "
                         f"{r['changed']:,} of {r['tokens']:,} | {row['stream_bytes']:,} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--clip", default="carphone_pristine.mp4")
    ap.add_argument("--qualities", default="1,5,9")
    ap.add_argument("--tables-from", default=None, metavar="CLIP",
                    help="also estimate per-scale residual tables counted on CLIP (training footage) "
                         "and used on --clip; e.g. bikes.mp4:0-0.5")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fast_prior" / "prior_bits.json")
    a = ap.parse_args()
    from vqcodec import load_codec
    from vqcodec.bench.clips import load_clip, load_tuning_clip
    from vqcodec.bench.report import report_header

    codec, clip = load_codec(a.model), load_clip(a.clip)
    fit_clip = load_tuning_clip(a.tables_from, 96, "352x272") if a.tables_from else None
    if codec.prior_kind != "fast":
        sys.exit(f"error: {a.model} has the {codec.prior_kind} prior; this reads the fast prior's parts")
    doc = report_header(["python", "benchmarks/prior_bits.py", *sys.argv[1:]]) | {
        "model": a.model, "sha256": codec.model_id.sha256.hex(), "clip": a.clip, "tables_from": a.tables_from,
        "rows": []}
    for q in (int(v) for v in a.qualities.split(",")):
        tokens, prev, size = recorded_tokens(codec, clip, q)
        intra = (prev == codec.prior.mask_index).flatten(1).all(1)
        row = {"quality": q, "stream_bytes": size}
        fit = recorded_tokens(codec, fit_clip, q)[:2] if fit_clip is not None else None
        codec.prior.train()  # the training arithmetic (straight-through rounding), no gradients
        try:
            for kind, sel in (("intra", intra), ("inter", ~intra)):
                row[kind] = split_bits(codec.prior, tokens[sel], prev[sel], q) | {"latent_frames": int(sel.sum())} \
                    if sel.any() else None
            if fit is not None:  # residuals of every latent frame of the fitting clip
                fitted = split_bits(codec.prior, *fit, q)["residuals"]
                for kind in ("intra", "inter"):
                    if row[kind] is not None:
                        row[kind]["residual_bits_fitted_tables"] = table_bits(fitted, row[kind]["residuals"])
        finally:
            codec.prior.train(False)
            codec.reset_tables()
        for kind in ("intra", "inter"):
            if row[kind] is not None:
                del row[kind]["residuals"]
        doc["rows"].append(row)
        print(f"q{q} done", file=sys.stderr)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=1) + "\n")
    a.out.with_suffix(".md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
