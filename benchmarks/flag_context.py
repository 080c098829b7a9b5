"""What the last frame's changes would tell the fast prior's flags: an out-of-sample estimate.

    python benchmarks/flag_context.py [--model default] [--fit bikes.mp4:0-0.5] [--clip carphone_pristine.mp4]
                                      [--qualities 1,5,9] [--out benchmarks/results/fast_prior/flag_context.json]

The "equals its base" flags are most of the fast prior's bits (prior_bits.py).
Its context sees the previous latent frame's tokens, not which of them had
just changed; where a token changed last frame it is likely to change again
(motion goes on, a still region stays still). This measures how much: for
the inter latent frames whose two predecessors are both known, each flag
logit f of the model is corrected by a small logistic model
    f' = f + w_p . [changed last frame (this channel, this position),
                    log(1 + channels changed at this position last frame),
                    log(1 + changes in this channel's 3x3 neighbourhood last frame)] + b_p
(w_p, b_p per coding pass: 4 numbers each), fitted by L-BFGS on --fit
(training footage, at most 96 frames cropped to 352x272; an evaluation clip
is refused) and applied to --clip, with the coder's flag quantization. The
tokens are those the encoder codes (prior_bits.recorded_tokens). A trained
prior with these inputs could do better than this linear correction.
Writes the JSON at --out and a Markdown table beside it (.md).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from prior_bits import recorded_tokens

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 3


@torch.no_grad()
def flag_data(codec, clip, q: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-> (flag logits (N,), token equals its base (N,), features (N, FEATURES + 1): the
    last column the pass index) over the inter latent frames with two known predecessors."""
    prior = codec.prior
    tokens, prev, _ = recorded_tokens(codec, clip, q)
    K = prior.K
    pprev = torch.cat([torch.full_like(prev[:1], K), prev[:-1]])  # the context's own predecessor
    keep = (prev != K).flatten(1).all(1) & (pprev != K).flatten(1).all(1)
    cur, prev, pprev = tokens[keep], prev[keep], pprev[keep]
    changed = (prev != pprev).float()  # (B, C, h, w)
    planes = [changed, torch.log1p(changed.sum(1, keepdim=True).expand_as(changed)),
              torch.log1p(F.avg_pool2d(changed, 3, 1, 1) * 9)]
    logits, same, feats = [], [], []
    prior.train()  # the training arithmetic (straight-through rounding), no gradients
    try:
        outputs = prior.pass_outputs(cur, prev, torch.full((cur.shape[0],), q))
        for index, (a, b, at, v, base, f, _, _) in enumerate(outputs):

            def coded(x):  # (B, C, h, w) -> (N x G,), in the pass's (batch, position, channel) order
                return x[:, a:b, at].permute(0, 2, 1).flatten()
            logits.append(f.flatten())
            same.append((v == base).flatten())
            feats.append(torch.stack([coded(p) for p in planes] + [torch.full_like(f.flatten(), index)], 1))
    finally:
        prior.train(False)
        codec.reset_tables()
    return torch.cat(logits), torch.cat(same), torch.cat(feats)


def design(feats: torch.Tensor, passes: int) -> torch.Tensor:
    """(N, FEATURES + 1) -> (N, (FEATURES + 1) x passes): each pass its own weights and bias."""
    onehot = F.one_hot(feats[:, FEATURES].long(), passes).float()
    return torch.cat([feats[:, :FEATURES, None] * onehot[:, None], onehot[:, None]], 1).flatten(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--fit", default="bikes.mp4:0-0.5")
    ap.add_argument("--clip", default="carphone_pristine.mp4")
    ap.add_argument("--qualities", default="1,5,9")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "fast_prior" / "flag_context.json")
    a = ap.parse_args()
    from vqcodec import load_codec
    from vqcodec.bench.clips import load_clip, load_tuning_clip
    from vqcodec.bench.report import report_header
    from vqcodec.models import laplace

    codec = load_codec(a.model)
    if codec.prior_kind != "fast":
        sys.exit(f"error: {a.model} has the {codec.prior_kind} prior; this reads the fast prior's flags")
    try:
        fit_clip = load_tuning_clip(a.fit, 96, "352x272")
    except ValueError as e:
        sys.exit(f"error: {e}")
    clip = load_clip(a.clip)
    passes = len(codec.prior.schedule())
    doc = report_header(["python", "benchmarks/flag_context.py", *sys.argv[1:]]) | {
        "model": a.model, "sha256": codec.model_id.sha256.hex(), "fit": a.fit, "clip": a.clip, "rows": []}
    for q in (int(v) for v in a.qualities.split(",")):
        f_fit, s_fit, x_fit = flag_data(codec, fit_clip, q)
        f_test, s_test, x_test = flag_data(codec, clip, q)
        w = torch.zeros((FEATURES + 1) * passes, requires_grad=True)
        opt, d_fit = torch.optim.LBFGS([w], max_iter=100), design(x_fit, passes)

        def closure():
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(f_fit + d_fit @ w, s_fit.float())
            loss.backward()
            return loss
        opt.step(closure)
        with torch.no_grad():
            before = laplace.flag_bits(s_test, f_test).sum().item()
            after = laplace.flag_bits(s_test, f_test + design(x_test, passes) @ w).sum().item()
        doc["rows"].append({"quality": q, "fit_flags": len(s_fit), "flags": len(s_test), "flag_bits": before,
                            "flag_bits_with_last_changes": after, "weights": [round(v, 4) for v in w.tolist()]})
        print(f"q{q}: {before:,.0f} -> {after:,.0f} flag bits ({after / before - 1:+.1%})", file=sys.stderr)
    lines = [f"# The fast prior's flags with the last frame's changes ({a.model}: fit on {a.fit}, measured on {a.clip})",
             "", f"`{doc['command']}`, {doc['date']}. Inter latent frames with two known predecessors.", "",
             "| quality | flags | flag bits | with the last frame's changes | change |", "|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['quality']} | {r['flags']:,} | {r['flag_bits']:,.0f} | {r['flag_bits_with_last_changes']:,.0f} | "
              f"{r['flag_bits_with_last_changes'] / r['flag_bits'] - 1:+.1%} |" for r in doc["rows"]]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(doc, indent=1) + "\n")
    a.out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
