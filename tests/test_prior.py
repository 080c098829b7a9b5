"""prior.py: schedule, tiling, the training inputs, and an exact token round
trip through prior + cdf + range coder with a small random model."""
import numpy as np
import torch

from vqcodec.config import PriorConfig, QuantizerConfig
from vqcodec.prior import Prior, checkerboard, from_tiles, schedule, to_tiles


def test_schedule_is_level_major_two_halves():
    assert schedule(2) == [(0, 0), (0, 1), (1, 0), (1, 1)]


def test_tiles_round_trip_with_padding():
    g = torch.arange(3 * 7 * 10).view(3, 7, 10)
    t = to_tiles(g, 4, fill=-1)
    assert t.shape == (2 * 3, 3, 16)
    assert (t == -1).sum() == 3 * (8 * 12 - 70)
    assert torch.equal(from_tiles(t, 7, 10, 4), g)


def test_checkerboard_parity():
    b = checkerboard(3, 4)
    assert b.sum() == 6 and not b[0, 0] and b[0, 1] and b[1, 0]


def _small_prior(seed=0):
    torch.manual_seed(seed)
    p = Prior(PriorConfig(dim=16, layers=1, heads=2, tile=4), QuantizerConfig(levels=3, codebook_size=8, dim=4))
    return p.eval()


def test_training_inputs_hide_what_the_decoder_does_not_know():
    p = _small_prior()
    M = p.mask_index
    cur = torch.randint(0, 8, (4, 3, 16))
    prev = torch.randint(0, 8, (4, 3, 16))
    levels = torch.tensor([3, 3, 2, 1])
    group = torch.tensor([0, 3, 2, 1])  # (l0 black), (l1 white), (l1 black), (l0 white)
    cur_in, prev_in, target = p.training_inputs(cur, prev, levels, group)
    black = ~checkerboard(4, 4).view(-1)
    # group 0: nothing known; targets = black squares of level 0
    assert (cur_in[0] == M).all() and torch.equal(target[0], black)
    # group 3: level 0 known, level 1 black known, white targets; level 2 hidden
    assert torch.equal(cur_in[1, 0], cur[1, 0])
    assert torch.equal(cur_in[1, 1][black], cur[1, 1][black]) and (cur_in[1, 1][~black] == M).all()
    assert (cur_in[1, 2] == M).all() and torch.equal(target[1], ~black)
    # quality 2: the previous frame's level 2 is absent
    assert (prev_in[2, 2] == M).all() and torch.equal(prev_in[2, :2], prev[2, :2])
    # quality 1 only ever sees level 0 of the previous frame
    assert (prev_in[3, 1:] == M).all()


def test_logits_shape_and_level_heads():
    p = _small_prior()
    cur = torch.full((2, 3, 16), p.mask_index)
    out = p(cur, cur, torch.tensor([0, 5]))
    assert out.shape == (2, 16, 8)
    assert not torch.allclose(out[0], out[1])


def test_exact_token_round_trip(tiny_codec):
    """Random tokens through the real coding loop: decoded == encoded, for
    several qualities, with and without previous-frame context."""
    rng = np.random.default_rng(0)
    K = tiny_codec.config.quantizer.codebook_size
    for levels in (1, 2, 3):
        tokens = rng.integers(0, K, (3, levels, 5, 7))
        prev = tiny_codec._empty_context(5, 7)
        payload, ideal, ctx = tiny_codec.encode_payload(tokens, prev)
        back, ctx2 = tiny_codec.decode_payload(payload, 3, levels, tiny_codec._empty_context(5, 7))
        assert np.array_equal(back, tokens)
        assert torch.equal(ctx, ctx2)
        assert 8 * len(payload) <= ideal * 1.01 + 64
        # a second GOP coded with the first one's context also round trips
        more = rng.integers(0, K, (2, levels, 5, 7))
        p2, _, _ = tiny_codec.encode_payload(more, ctx)
        back2, _ = tiny_codec.decode_payload(p2, 2, levels, ctx2)
        assert np.array_equal(back2, more)


def test_predictive_prior_has_groups_and_heads_per_frame_kind():
    import torch

    from vqcodec.config import PriorConfig, QuantizerConfig
    from vqcodec.prior import Prior, group_id

    N = 3
    p = Prior(PriorConfig(dim=16, layers=1, heads=2, tile=4), QuantizerConfig(levels=N, codebook_size=8, predictive=True))
    assert p.group_emb.num_embeddings == 4 * N and p.head_w.shape[0] == 2 * N
    assert group_id(1, 2, 1, N) == 2 * N + 5
    # training inputs of a P group mask the same levels as the I group
    cur = torch.randint(0, 8, (1, N, 16))
    prev = torch.randint(0, 8, (1, N, 16))
    lv = torch.tensor([3])
    a = p.training_inputs(cur, prev, lv, torch.tensor([group_id(0, 1, 1, N)]))
    b = p.training_inputs(cur, prev, lv, torch.tensor([group_id(1, 1, 1, N)]))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    logits = p(a[0], a[1], torch.tensor([group_id(1, 1, 1, N)]))
    assert logits.shape == (1, 16, 8)


# ------------------------------------------------ scalar-quantized models
def _scalar_prior():
    from vqcodec.config import PriorConfig, QuantizerConfig

    q = QuantizerConfig(codebook_size=8, dim=4, scalar_steps=(0.5, 0.25, 0.1), channel_groups=2)
    return Prior(PriorConfig(dim=16, layers=1, heads=2, tile=4), q).eval()


def test_scalar_prior_predicts_every_channel_of_a_group():
    p = _scalar_prior()
    assert (p.planes, p.levels, p.per, p.contexts) == (4, 2, 2, 3)
    assert p.head_w.shape == (2, 2 * 8, 16) and p.group_emb.num_embeddings == 2 * 2 * 3
    cur = torch.full((2, 4, 16), p.mask_index)
    g1, g3 = p.group(0, 1, 0, quality=1), p.group(0, 1, 0, quality=3)
    assert g1 != g3 and int(p.head_index(torch.tensor([g1]))) == int(p.head_index(torch.tensor([g3]))) == 1
    out = p(cur, cur, torch.tensor([g1, g3]))
    assert out.shape == (2, 16, 2 * 8)
    assert not torch.allclose(out[0], out[1])  # the quality changes the prediction


def test_scalar_training_inputs_hide_the_group_and_the_later_channels():
    p = _scalar_prior()
    M = p.mask_index
    cur = torch.randint(0, 8, (2, 4, 16))
    prev = torch.randint(0, 8, (2, 4, 16))
    groups = torch.tensor([p.group(0, 0, 1, 2), p.group(0, 1, 0, 3)])  # (channels 0-1, white), (channels 2-3, black)
    cur_in, prev_in, target = p.training_inputs(cur, prev, torch.tensor([2, 2]), groups)
    black = ~checkerboard(4, 4).view(-1)
    # group 0 white: channels 0-1 known on black squares only, channels 2-3 hidden
    assert torch.equal(cur_in[0, :2][:, black], cur[0, :2][:, black]) and (cur_in[0, :2][:, ~black] == M).all()
    assert (cur_in[0, 2:] == M).all() and torch.equal(target[0], ~black)
    # group 1 black: channels 0-1 known everywhere, 2-3 hidden; the previous frame is whole
    assert torch.equal(cur_in[1, :2], cur[1, :2]) and (cur_in[1, 2:] == M).all() and torch.equal(target[1], black)
    assert torch.equal(prev_in, prev)
    assert torch.equal(p.target_tokens(cur, groups), torch.stack([cur[0, :2], cur[1, 2:]]))


def test_integer_scalar_prior_matches_the_float_one():
    from vqcodec.integer_prior import IntegerPrior

    p = _scalar_prior()
    cur = torch.randint(0, 9, (3, 4, 16))
    group = torch.tensor([p.group(0, 0, 0, 1), p.group(0, 1, 1, 2), p.group(0, 1, 0, 3)])
    with torch.no_grad():
        ref = p(cur, cur, group)
    got = IntegerPrior(p)(cur, cur, group).double() / (1 << 16)
    assert got.shape == ref.shape and float((got - ref).abs().max()) < 0.01
