"""The autoencoder's building blocks: 3D convolutions run as 2D ones, residual
blocks of a spatial and a temporal kernel, and axial attention.

Conv3d and ConvTranspose3d have torch.nn's parameters and state_dict; only
the kernels that compute them differ. The autoencoder's 3D kernels are all
of three kinds:

    (1, k, k)   spatial: the same 2D kernel on every frame -> conv2d, frames as the batch
    (k, 1, 1)   temporal: the same taps at every pixel     -> conv2d over (T, H*W)
    (2, 2, 2)   stride 2, no overlap (down, up, the linear path and the
                reference's prediction) -> a strided conv2d (or conv_transpose2d)
                per temporal tap

On a CPU, PyTorch runs every Conv3d through its generic slow_conv3d, 55 % of
the autoencoder's time at 352x288; 2D convolutions go to oneDNN. Encoding
and decoding a 2-frame step at 352x288 took 134 ms with torch.nn's kernels
and 93 ms with these (1,626 and 997 ms at 1280x720; min of 6 interleaved
runs, 2 threads, a scratch timing); `python benchmarks/speed.py` measured
the whole codec before and after (docs/results.md, Speed and memory).

The results equal torch.nn's up to float rounding (the summation order
differs), which is what the project promises of pixels anyway: tokens are
exact on every machine, decoded pixels may differ by a level between
machines and kernels (the golden-stream tests allow a few latents on a
decision boundary to round the other way). Other configurations (groups,
dilation, padding modes, overlapping strides) fall back to torch.nn's own.

    x  (B, C, T, H, W) float; weight (O, C, kt, kh, kw) (Conv3d) or
       (C, O, kt, kh, kw) (ConvTranspose3d)
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _plain(conv: nn.Conv3d | nn.ConvTranspose3d) -> bool:
    """No groups, dilation or padding modes: the cases below are exact rewrites."""
    return conv.groups == 1 and conv.dilation == (1, 1, 1) and conv.padding_mode == "zeros"


class Conv3d(nn.Conv3d):
    """nn.Conv3d, with spatial, temporal and block kernels run as 2D convolutions."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kt, kh, kw = self.kernel_size
        pt, ph, pw = self.padding if not isinstance(self.padding, str) else (-1, -1, -1)
        if not _plain(self) or pt < 0:
            return super().forward(x)
        B, C, T, H, W = x.shape
        if self.stride == (1, 1, 1) and kt == 1 and pt == 0:  # frames as the batch
            y = F.conv2d(x.transpose(1, 2).reshape(B * T, C, H, W), self.weight[:, :, 0], self.bias,
                         padding=(ph, pw))  # (B*T, O, H', W')
            return y.reshape(B, T, *y.shape[1:]).transpose(1, 2)
        if self.stride == (1, 1, 1) and kh == kw == 1 and ph == pw == 0:  # pixels flattened
            y = F.conv2d(x.reshape(B, C, T, H * W), self.weight[..., 0], self.bias, padding=(pt, 0))
            return y.reshape(B, -1, y.shape[2], H, W)  # (B, O, T', H, W)
        if self.stride == self.kernel_size and (pt, ph, pw) == (0, 0, 0) and T % kt == 0:
            # one block per output position: a strided 2D convolution per temporal tap, summed
            frames = x.reshape(B, C, T // kt, kt, H, W)
            y = sum(F.conv2d(frames[:, :, :, i].transpose(1, 2).reshape(-1, C, H, W), self.weight[:, :, i],
                             self.bias if i == 0 else None, stride=(kh, kw)) for i in range(kt))
            return y.reshape(B, T // kt, *y.shape[1:]).transpose(1, 2)  # (B, O, T/kt, H/kh, W/kw)
        return super().forward(x)


class ConvTranspose3d(nn.ConvTranspose3d):
    """nn.ConvTranspose3d; with stride equal to the kernel (no overlap), one 2D
    transposed convolution per temporal tap: each input position writes its own
    kt x kh x kw block."""

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        kt, kh, kw = self.kernel_size
        if (output_size is not None or not _plain(self) or self.stride != self.kernel_size
                or self.padding != (0, 0, 0) or self.output_padding != (0, 0, 0)):
            return super().forward(x, output_size)
        B, C, T, H, W = x.shape
        frames = x.transpose(1, 2).reshape(B * T, C, H, W)
        # each temporal tap: a strided 2D transposed convolution writing output frame t*kt + i
        y = torch.stack([F.conv_transpose2d(frames, self.weight[:, :, i], self.bias, stride=(kh, kw))
                         for i in range(kt)], 1)  # (B*T, kt, O, H*kh, W*kw)
        return y.reshape(B, T * kt, *y.shape[2:]).transpose(1, 2)  # (B, O, T*kt, H*kh, W*kw)


class ResBlock(nn.Module):
    """x + conv_t(act(conv_s(act(x)))): one spatial and one temporal kernel."""

    def __init__(self, ch: int):
        super().__init__()
        self.spatial = Conv3d(ch, ch, (1, 3, 3), padding=(0, 1, 1))
        self.temporal = Conv3d(ch, ch, (3, 1, 1), padding=(1, 0, 0))
        nn.init.zeros_(self.temporal.weight)  # start as identity: stable deep training
        nn.init.zeros_(self.temporal.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.temporal(F.silu(self.spatial(F.silu(x))))


class AxialAttention(nn.Module):
    """Multi-head self-attention along one axis of (B, C, T, H, W) at a time
    (time, then height, then width), as in VideoGPT: cost grows with T+H+W per
    position instead of T*H*W."""

    def __init__(self, ch: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(1, ch)
        self.qkv = nn.ModuleList(nn.Linear(ch, 3 * ch) for _ in range(3))
        self.out = nn.Linear(3 * ch, ch)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def _attend(self, x: torch.Tensor, qkv: nn.Linear) -> torch.Tensor:
        # x: (N, L, C) sequences along one axis
        N, L, C = x.shape
        if L == 1:  # one element (a step's single latent frame): softmax is 1, the output is v
            return F.linear(x, qkv.weight[2 * C:], qkv.bias[2 * C:])
        q, k, v = qkv(x).view(N, L, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (N, heads, L, C/heads)
        return y.transpose(1, 2).reshape(N, L, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, C, T, H, W = x.shape
        h = self.norm(x).permute(0, 2, 3, 4, 1)  # (B, T, H, W, C)
        outs = []
        for axis, qkv in zip((1, 2, 3), self.qkv):
            # move `axis` next to C, flatten the others into the batch
            perm = [0] + [a for a in (1, 2, 3) if a != axis] + [axis, 4]
            seq = h.permute(*perm)
            shape = seq.shape
            y = self._attend(seq.reshape(-1, shape[-2], C), qkv).reshape(shape)
            inv = [perm.index(i) for i in range(5)]
            outs.append(y.permute(*inv))
        y = self.out(torch.cat(outs, -1))  # (B, T, H, W, C)
        return x + y.permute(0, 4, 1, 2, 3)
