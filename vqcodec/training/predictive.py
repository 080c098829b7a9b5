"""Training motion-compensated coding (AutoencoderConfig.motion).

The coder codes an intra GOP, then every t = factor_t frames as one step
against a prediction clip: the last decoded frame warped by motion fields
searched on the originals (motion/prediction.py). Training does the same on
short clips, closed loop:

    clip (B, 3, t + S*t, H, W) in [0, 1]
    head: the first t frames, coded alone (Trainer._split_reference) -> its
          last decoded frame, rounded to 8 bits as a decoder's is
    step s = 1..S: frames predicted from the previous step's last decoded
          frame (motion searched against that frame's original), coded with
          the prediction, decoded; the next step predicts from it

so the model learns to correct predictions made from its own decoded frames
(an error it leaves is in the next step's reference, as in a stream). Each
step's loss counts; the reference a step gets is detached (the decoder has
it as fixed pixels). Motion search runs in numpy on the CPU: a few
milliseconds per 64x64 clip, cheap beside the networks.
"""
from __future__ import annotations

import numpy as np
import torch

from ..models.autoencoder import Autoencoder, copy_prediction
from ..models.residual_vq import QuantizerOutput
from ..format.versions import FORMAT_VERSION, motion_precision, subpel_filter
from ..motion.interpolation import FILTERS
from ..motion.prediction import predict_batch


def _uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, [T,] H, W) in [0, 1] -> uint8 (B, [T,] H, W, 3)."""
    y = torch.round(x.detach().clamp(0, 1) * 255).to(torch.uint8).cpu()
    return (y.permute(0, 2, 3, 1) if y.dim() == 4 else y.permute(0, 2, 3, 4, 1)).numpy()


def prediction_clip(ref: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """ref (B, 3, H, W) decoded frames in [-0.5, 0.5], source (B, 3, H, W) their
    originals in [0, 1], target (B, 3, t, H, W) in [0, 1] -> the prediction
    clips (B, 3, t, H, W) in [-0.5, 0.5], as the coder makes them."""
    # as the streams this build writes predict (v7: quarter pixels; v11: the 4-tap filter)
    clips = predict_batch(_uint8(ref + 0.5), _uint8(source), _uint8(target), motion_precision(FORMAT_VERSION),
                          FILTERS[subpel_filter(FORMAT_VERSION)])  # (B, t, H, W, 3)
    return torch.from_numpy(clips).to(target.device).permute(0, 4, 1, 2, 3).float() / 255 - 0.5


def _joined(outs: list[QuantizerOutput]) -> QuantizerOutput:
    """The steps' quantizer outputs as one (time concatenated, rates summed)."""
    rates = [o.rate_bits for o in outs]
    return QuantizerOutput(
        quantized=torch.cat([o.quantized for o in outs], 2), indices=torch.cat([o.indices for o in outs], 2),
        commit_loss=sum(o.commit_loss for o in outs) / len(outs),
        perplexity=torch.stack([o.perplexity for o in outs]).mean(0), dead_codes=sum(o.dead_codes for o in outs),
        rate_bits=None if rates[0] is None else sum(rates))


def coded_steps(model, x: torch.Tensor, levels: torch.Tensor, ref: torch.Tensor, source: torch.Tensor,
                keep: torch.Tensor | None, t: int) -> tuple[torch.Tensor, QuantizerOutput]:
    """The autoencoder stage over a clip's predicted steps (and, in eval mode under
    no_grad, the prior stage's tokens of them: the joined output's indices).

    model: (x, levels, pred, keep) -> (reconstruction in [0, 1], QuantizerOutput);
    x (B, 3, S*t, H, W) in [0, 1] the frames after the head; ref (B, 3, H, W)
    the head's last decoded frame in [-0.5, 0.5]; source its original in [0, 1].
    -> (reconstruction (B, 3, S*t, H, W), the steps' quantizer output joined)."""
    ys, outs = [], []
    for s in range(0, x.shape[2], t):
        target = x[:, :, s:s + t]
        pred = prediction_clip(ref, source, target)
        y, qo = model(target, levels, pred, keep)
        ys.append(y)
        outs.append(qo)
        ref = torch.round(y[:, :, -1].detach().clamp(0, 1) * 255) / 255 - 0.5
        source = target[:, :, -1]
    return torch.cat(ys, 2), _joined(outs)


@torch.no_grad()
def start_motion(ae: Autoencoder) -> None:
    """A model extended with motion-compensated coding starts as a residual
    coder: both sides' prediction is the encoder's linear path again (it may
    have drifted while alpha was small), alpha = 1 (the latents are the
    residual of the prediction's) and the decoder keeps the prediction's
    detail (PredictionDetail.beta = 1)."""
    for branch in (ae.encoder.reference, ae.decoder.reference):
        copy_prediction(ae, branch)
        branch.alpha.fill_(1.0)
    ae.decoder.detail.beta.fill_(1.0)
