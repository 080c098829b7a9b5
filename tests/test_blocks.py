"""blocks.py: the 3D convolutions run as 2D ones compute what torch.nn's do
(up to float rounding), keep torch.nn's parameters and state_dict, train
(gradients flow), and fall back to torch.nn's kernels where no rewrite
applies; axial attention over a one-element axis is its value projection."""
import pytest
import torch
import torch.nn as nn

from vqcodec.models.blocks import AxialAttention, Conv3d, ConvTranspose3d


def _pair(cls, stock, *args, **kw):
    torch.manual_seed(0)
    ours = cls(*args, **kw)
    ref = stock(*args, **kw)
    ref.load_state_dict(ours.state_dict())  # the same parameter names and shapes
    return ours, ref


@pytest.mark.parametrize("args, kw, shape", [
    ((6, 5, (1, 3, 3)), dict(padding=(0, 1, 1)), (2, 6, 3, 9, 7)),  # spatial
    ((6, 5, (3, 1, 1)), dict(padding=(1, 0, 0)), (2, 6, 3, 9, 7)),  # temporal
    ((6, 5, 1), {}, (1, 6, 2, 5, 4)),  # pointwise
    ((6, 5, (2, 2, 2)), dict(stride=(2, 2, 2)), (2, 6, 4, 6, 8)),  # blocks
    ((6, 5, (2, 2, 2)), dict(stride=(2, 2, 2), bias=False), (1, 6, 2, 6, 8)),
    ((6, 5, (1, 3, 3)), dict(padding=(0, 1, 1), bias=False), (1, 6, 1, 4, 4)),
    ((6, 5, (2, 3, 3)), dict(padding=1), (1, 6, 3, 9, 7)),  # no rewrite: torch.nn's own
    ((6, 6, (1, 3, 3)), dict(padding=(0, 1, 1), groups=2), (1, 6, 2, 5, 5)),
    ((6, 5, (1, 3, 3)), dict(padding=(0, 2, 2), dilation=(1, 2, 2)), (1, 6, 2, 9, 9)),
    ((6, 5, (2, 2, 2)), dict(stride=(2, 2, 2)), (1, 6, 3, 6, 8)),  # T not a multiple of the stride
])
def test_conv3d_computes_what_torch_does(args, kw, shape):
    ours, ref = _pair(Conv3d, nn.Conv3d, *args, **kw)
    x = torch.randn(shape)
    y = ours(x)
    assert y.shape == ref(x).shape
    assert torch.allclose(y, ref(x), atol=1e-5)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_transpose3d_computes_what_torch_does(bias):
    ours, ref = _pair(ConvTranspose3d, nn.ConvTranspose3d, 6, 5, 2, stride=2, bias=bias)
    x = torch.randn(2, 6, 2, 5, 3)
    assert torch.allclose(ours(x), ref(x), atol=1e-5)
    odd, odd_ref = _pair(ConvTranspose3d, nn.ConvTranspose3d, 6, 5, 3, stride=2, padding=1)  # overlapping
    assert torch.allclose(odd(x), odd_ref(x), atol=1e-5)


def test_gradients_match_torch():
    ours, ref = _pair(Conv3d, nn.Conv3d, 4, 3, (1, 3, 3), padding=(0, 1, 1))
    x = torch.randn(1, 4, 2, 6, 6, requires_grad=True)
    x2 = x.detach().clone().requires_grad_(True)
    ours(x).square().sum().backward()
    ref(x2).square().sum().backward()
    assert torch.allclose(ours.weight.grad, ref.weight.grad, atol=1e-4)
    assert torch.allclose(x.grad, x2.grad, atol=1e-5)


def test_attention_over_one_element_is_the_value_projection():
    torch.manual_seed(0)
    a = AxialAttention(16, 4)
    x = torch.randn(3, 1, 16)
    q, k, v = a.qkv[0](x).chunk(3, -1)
    assert torch.allclose(a._attend(x, a.qkv[0]), v, atol=1e-6)
    longer = torch.randn(3, 2, 16)
    assert a._attend(longer, a.qkv[0]).shape == longer.shape
