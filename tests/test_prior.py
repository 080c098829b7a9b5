"""prior.py: schedule, tiling, the training inputs, and an exact token round
trip through prior + cdf + range coder with a small random model, and the
temporal shortcuts (copy head, match context) in float and integers."""
from dataclasses import replace

import numpy as np
import torch

from vqcodec.config import PriorConfig, QuantizerConfig
from vqcodec.models.prior import Prior, checkerboard, from_tiles, schedule, to_tiles


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
        prev = tiny_codec.empty_context(5, 7)
        payload, ideal, ctx = tiny_codec.encode_payload(tokens, prev)
        back, ctx2 = tiny_codec.decode_payload(payload, 3, levels, tiny_codec.empty_context(5, 7))
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
    from vqcodec.models.prior import Prior, group_id

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
    from vqcodec.coding.integer_prior import IntegerPrior

    p = _scalar_prior()
    cur = torch.randint(0, 9, (3, 4, 16))
    group = torch.tensor([p.group(0, 0, 0, 1), p.group(0, 1, 1, 2), p.group(0, 1, 0, 3)])
    with torch.no_grad():
        ref = p(cur, cur, group)
    got = IntegerPrior(p)(cur, cur, group).double() / (1 << 16)
    assert got.shape == ref.shape and float((got - ref).abs().max()) < 0.01


# ---------------------------------------- temporal shortcuts (copy head, match context)
def _shortcut_prior(seed: int = 0):
    from vqcodec.config import PriorConfig, QuantizerConfig

    torch.manual_seed(seed)
    q = QuantizerConfig(codebook_size=8, dim=4, scalar_steps=(0.5, 0.25, 0.1), channel_groups=2)
    return Prior(PriorConfig(dim=16, layers=1, heads=2, tile=4, copy_radius=2, match_context=True), q).eval()


def test_copy_logits_land_on_the_symbols_around_the_previous_one():
    from vqcodec.models.prior import copy_logits

    K, r = 8, 2
    cw = torch.arange(1.0, 11.0).view(1, 1, 10)  # one position, per = 2 planes x 5 offsets (-2..2)
    prev_t = torch.tensor([[[0], [K]]])  # plane 0 was symbol 0; plane 1 absent (MASK)
    out = copy_logits(cw, prev_t, K, r).view(2, K)
    # symbol 0 + offsets 0, 1, 2 keep cw[2], cw[3], cw[4]; -2 and -1 fall off the table
    assert out[0].tolist() == [3.0, 4.0, 5.0, 0, 0, 0, 0, 0]
    assert (out[1] == 0).all()  # nothing to copy from
    prev_t = torch.tensor([[[7], [4]]])
    out = copy_logits(cw, prev_t, K, r).view(2, K)
    assert out[0].tolist() == [0, 0, 0, 0, 0, 1.0, 2.0, 3.0]
    assert out[1].tolist() == [0, 0, 6.0, 7.0, 8.0, 9.0, 10.0, 0]
    ints = copy_logits(cw.long() * 65536, prev_t, K, r)  # the integer prior's path: exact
    assert torch.equal(ints, (out.view(1, 1, -1) * 65536).long())


def test_match_counts_see_only_planes_known_in_both_frames():
    from vqcodec.models.prior import match_counts

    M = 8
    cur = torch.tensor([[[1, 2], [3, M], [5, 5]]])  # (1, planes 3, S 2)
    prev = torch.tensor([[[1, 0], [3, 3], [M, 5]]])
    same, diff = match_counts(cur, prev, M)
    assert same.tolist() == [[2, 1]] and diff.tolist() == [[0, 1]]


def test_shortcuts_start_at_zero_and_change_nothing_until_trained():
    p = _shortcut_prior()
    plain = Prior(replace(p.cfg, copy_radius=0, match_context=False), p.qcfg).eval()
    plain.load_state_dict({k: v for k, v in p.state_dict().items() if k in plain.state_dict()})
    cur, prev = torch.randint(0, 9, (3, 4, 16)), torch.randint(0, 9, (3, 4, 16))
    group = torch.tensor([p.group(0, 0, 0, 1), p.group(0, 1, 1, 2), p.group(0, 1, 0, 3)])
    with torch.no_grad():
        assert torch.equal(p(cur, prev, group), plain(cur, prev, group))
        p.copy_b[:, 2::5] = 4.0  # offset 0 of every plane: "same as before" gets +4
        moved = p(cur, prev, group) - plain(cur, prev, group)  # (3, 16, per * K)
    want = torch.zeros_like(moved).view(3, 16, 2, 8)
    tgt = p.target_tokens(prev, group).transpose(1, 2)  # (3, 16, 2)
    here = tgt != p.mask_index
    want[here.nonzero(as_tuple=True) + (tgt[here],)] = 4.0
    assert torch.allclose(moved.view(3, 16, 2, 8), want, atol=1e-5)  # (x + 4) - x: float rounding


def test_integer_prior_with_shortcuts_matches_the_float_one():
    from vqcodec.coding.integer_prior import IntegerPrior

    p = _shortcut_prior(1)
    with torch.no_grad():
        p.copy_w.normal_(0, 0.3), p.copy_b.normal_(0, 1.0)
        p.same_emb.weight.normal_(0, 0.3), p.diff_emb.weight.normal_(0, 0.3)
    g = torch.Generator().manual_seed(2)
    cur, prev = torch.randint(0, 9, (4, 4, 16), generator=g), torch.randint(0, 9, (4, 4, 16), generator=g)
    group = torch.tensor([p.group(0, 0, 0, 1), p.group(0, 0, 1, 2), p.group(0, 1, 1, 2), p.group(0, 1, 0, 3)])
    with torch.no_grad():
        ref = p(cur, prev, group)
    got = IntegerPrior(p)(cur, prev, group).double() / (1 << 16)
    assert got.shape == ref.shape and float((got - ref).abs().max()) < 0.01
