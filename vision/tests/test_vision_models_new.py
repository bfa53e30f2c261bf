"""EfficientNetV2, MaxViT, Swin V2 (and Swin-S/B), ViT-S/16: torchvision's published parameter
counts and key names, output shapes, a gradient step, and the position-bias / partition /
attention code against small NumPy references."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import models
from tocha.vision.models.maxvit import (
    MaxVit,
    RelativePositionalMultiHeadAttention,
    WindowDepartition,
    WindowPartition,
    _get_relative_position_index,
)
from tocha.vision.models.swin_transformer import (
    PatchMergingV2,
    ShiftedWindowAttentionV2,
    _relative_coords_table,
    _relative_position_index,
)

# torchvision's published counts (its docs' model tables and the weights' meta["num_params"])
TORCHVISION_NUM_PARAMS = {
    "efficientnet_v2_s": 21458488,
    "maxvit_t": 30919624,
    "swin_v2_t": 28351570,
}
TORCHVISION_NUM_PARAMS_LARGE = {
    "efficientnet_v2_m": 54139356,
    "efficientnet_v2_l": 118515272,
    "swin_s": 49606258,
    "swin_b": 87768224,
    "swin_v2_s": 49737442,
    "swin_v2_b": 87930848,
}
KEYS = {
    "efficientnet_v2_s": [
        "features.0.0.weight",
        "features.0.1.running_var",
        "features.1.0.block.0.0.weight",  # Fused-MBConv without expansion: one 3x3 conv
        "features.2.0.block.0.0.weight",  # fused 3x3 expansion
        "features.2.0.block.1.1.bias",  # 1x1 projection
        "features.4.0.block.2.fc1.weight",  # MBConv's squeeze-excitation
        "features.6.14.block.3.1.running_mean",
        "features.7.0.weight",
        "classifier.1.weight",
    ],
    "maxvit_t": [
        "stem.0.0.weight",
        "stem.0.1.running_mean",
        "stem.1.0.bias",
        "blocks.0.layers.0.layers.MBconv.proj.1.weight",
        "blocks.0.layers.0.layers.MBconv.layers.pre_norm.weight",
        "blocks.0.layers.0.layers.MBconv.layers.conv_a.0.weight",
        "blocks.0.layers.0.layers.MBconv.layers.conv_b.1.num_batches_tracked",
        "blocks.0.layers.0.layers.MBconv.layers.squeeze_excitation.fc2.bias",
        "blocks.0.layers.0.layers.MBconv.layers.conv_c.weight",
        "blocks.0.layers.0.layers.window_attention.attn_layer.0.weight",
        "blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_bias_table",
        "blocks.0.layers.0.layers.window_attention.attn_layer.1.relative_position_index",
        "blocks.0.layers.0.layers.window_attention.attn_layer.1.to_qkv.weight",
        "blocks.0.layers.0.layers.window_attention.attn_layer.1.merge.bias",
        "blocks.2.layers.4.layers.grid_attention.mlp_layer.0.weight",
        "blocks.3.layers.1.layers.grid_attention.mlp_layer.3.bias",
        "classifier.2.weight",
        "classifier.3.bias",
        "classifier.5.weight",
    ],
    "swin_v2_t": [
        "features.0.0.weight",
        "features.0.2.bias",
        "features.1.0.attn.logit_scale",
        "features.1.0.attn.relative_coords_table",
        "features.1.0.attn.relative_position_index",
        "features.1.0.attn.cpb_mlp.0.weight",
        "features.1.0.attn.cpb_mlp.0.bias",
        "features.1.0.attn.cpb_mlp.2.weight",
        "features.1.1.attn.qkv.bias",
        "features.2.reduction.weight",
        "features.2.norm.weight",
        "features.5.5.mlp.3.bias",
        "norm.weight",
        "head.bias",
    ],
    "vit_s_16": [
        "class_token",
        "conv_proj.weight",
        "encoder.pos_embedding",
        "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
        "encoder.layers.encoder_layer_11.mlp.3.bias",
        "encoder.ln.weight",
        "heads.head.weight",
    ],
}
# keys these models must not have (V2 has no learned bias table; no bias on maxvit's logits)
ABSENT = {
    "swin_v2_t": ["features.1.0.attn.relative_position_bias_table", "features.2.reduction.bias"],
    "maxvit_t": ["classifier.5.bias", "blocks.0.layers.1.layers.MBconv.proj.0.weight"],
}


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_num_params_and_keys_equal_torchvision(name):
    model = models.get_model(name)
    assert _count(model) == TORCHVISION_NUM_PARAMS[name]
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == _count(model)
    keys = set(model.state_dict())
    assert not [k for k in KEYS[name] if k not in keys]
    assert not [k for k in ABSENT.get(name, []) if k in keys]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS_LARGE))
def test_num_params_of_the_larger_variants(name):
    model = models.get_model(name)
    assert _count(model) == TORCHVISION_NUM_PARAMS_LARGE[name]
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == _count(model)


def test_vit_s_16_parameter_count_from_the_architecture():
    d, mlp, layers, patch, classes = 384, 1536, 12, 16, 1000
    seq = (224 // patch) ** 2 + 1
    per_layer = (
        2 * 2 * d  # ln_1, ln_2
        + 3 * d * d
        + 3 * d  # in_proj
        + d * d
        + d  # out_proj
        + d * mlp
        + mlp
        + mlp * d
        + d  # mlp
    )
    expected = (
        3 * patch * patch * d
        + d  # conv_proj
        + d  # class_token
        + seq * d  # pos_embedding
        + layers * per_layer
        + 2 * d  # encoder.ln
        + d * classes
        + classes  # head
    )
    model = models.vit_s_16()
    assert expected == 22050664
    assert _count(model) == expected
    keys = set(model.state_dict())
    assert not [k for k in KEYS["vit_s_16"] if k not in keys]
    assert "encoder_layer_12" not in " ".join(keys)
    assert model.encoder.layers.encoder_layer_0.self_attention.num_heads == 6
    assert len(list(models.get_model_weights("vit_s_16"))) == 0  # no published weights


def _small_maxvit(num_classes=7):
    # partition 2 on a 64x64 input: the blocks see 16, 8, 4, 2, all divisible by 2
    return MaxVit(
        input_size=(64, 64),
        stem_channels=8,
        partition_size=2,
        block_channels=[8, 16, 16, 32],
        block_layers=[1, 2, 1, 1],
        head_dim=4,
        stochastic_depth_prob=0.2,
        num_classes=num_classes,
    )


STEP = {
    "efficientnet_v2_s": (lambda: models.efficientnet_v2_s(num_classes=7), 33),
    "maxvit_small": (_small_maxvit, 64),
    "swin_v2_t": (lambda: models.swin_v2_t(num_classes=7), 64),
    "vit_s_16": (lambda: models.vit_s_16(image_size=32, num_classes=7), 32),
}


@pytest.mark.parametrize("name", sorted(STEP))
def test_forward_backward_step(name):
    torch.manual_seed(0)
    build, size = STEP[name]
    model = build()
    if name == "vit_s_16":  # torchvision zeroes the head, which would stop all gradients
        torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    x = torch.randn(4, 3, size, size)
    target = torch.tensor([1, 5, 0, 3])
    model.train()
    out = model(x)
    assert tuple(out.shape) == (4, 7)

    def loss_at_seed():
        torch.manual_seed(1)  # the same drop-path masks on every call
        return torch.nn.functional.cross_entropy(model(x), target)

    with torch.no_grad():
        before = loss_at_seed().item()
    loss_at_seed().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), f"{name}: a parameter got no gradient"
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    norm = float(np.sqrt(sum(float((g * g).sum().item()) for g in grads)))
    with torch.no_grad():
        for p in model.parameters():
            p -= (1e-3 / norm) * p.grad
        after = loss_at_seed().item()
    assert after < before, f"{name}: loss {before} -> {after}"


def test_maxvit_t_output_shape_at_its_documented_224_and_size_check():
    torch.manual_seed(0)
    model = models.maxvit_t(num_classes=5).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 224, 224)).shape) == (1, 5)
    grids = [b.grid_size for b in model.blocks]
    assert grids == [(56, 56), (28, 28), (14, 14), (7, 7)]
    with pytest.raises(ValueError, match="not divisible by partition_size 7"):
        models.maxvit_t(input_size=(192, 192))
    with pytest.raises(ValueError, match="expected a 56x56"):
        model.blocks[0].layers[0].layers.window_attention(torch.zeros(1, 64, 28, 28))


def test_maxvit_stochastic_depth_is_linear_over_all_layers():
    model = models.maxvit_t()
    got = [
        layer.layers.window_attention.stochastic_dropout.p
        for block in model.blocks
        for layer in block.layers
    ]
    np.testing.assert_allclose(got, np.linspace(0, 0.2, 11))


def test_maxvit_relative_position_index_matches_brute_force():
    h, w = 3, 4
    got = _get_relative_position_index(h, w).numpy()
    ref = np.zeros((h * w, h * w), np.int64)
    for i in range(h * w):
        for j in range(h * w):
            dy = i // w - j // w + h - 1
            dx = i % w - j % w + w - 1
            ref[i, j] = dy * (2 * w - 1) + dx
    np.testing.assert_array_equal(got, ref)


def test_maxvit_window_and_grid_partitions_from_first_principles():
    rng = np.random.default_rng(0)
    B, C, H, W, p = 1, 2, 6, 6, 3
    x = rng.standard_normal((B, C, H, W)).astype(np.float32)
    part = WindowPartition()(torch.from_numpy(x), p).numpy()
    ws = W // p
    # window g holds the p x p block at (g // ws, g % ws); token t is row-major inside it
    for g in range(part.shape[1]):
        for t in range(p * p):
            r = (g // ws) * p + t // p
            c = (g % ws) * p + t % p
            np.testing.assert_array_equal(part[0, g, t], x[0, :, r, c])
    back = WindowDepartition()(torch.from_numpy(part), p, H // p, W // p).numpy()
    np.testing.assert_array_equal(back, x)
    # grid attention partitions with p = grid/partition and swaps the axes: one group holds
    # tokens spread p apart across the whole map
    layer = models.maxvit_t().blocks[3].layers[0].layers.grid_attention
    assert (layer.p, layer.g) == (1, 7)
    layer = _small_maxvit().blocks[0].layers[0].layers.grid_attention  # 16x16 map, P = 2
    assert (layer.p, layer.g) == (8, 2)
    y = rng.standard_normal((1, 2, 16, 16)).astype(np.float32)
    grid = layer.partition_swap(layer.partition_op(torch.from_numpy(y), layer.p)).numpy()
    assert grid.shape == (1, 64, 4, 2)
    for g in (0, 9, 63):
        members = [y[0, :, (t // 2) * 8 + g // 8, (t % 2) * 8 + g % 8] for t in range(4)]
        np.testing.assert_array_equal(grid[0, g], np.stack(members))


def test_maxvit_attention_matches_numpy_reference():
    torch.manual_seed(0)
    attn = RelativePositionalMultiHeadAttention(feat_dim=8, head_dim=4, max_seq_len=4)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.0)
    x = torch.randn(2, 3, 4, 8)
    with torch.no_grad():
        got = attn(x).numpy()
    xa = x.numpy()
    qkv = xa @ attn.to_qkv.weight.detach().numpy().T + attn.to_qkv.bias.detach().numpy()
    q, k, v = np.split(qkv, 3, axis=-1)
    table = attn.relative_position_bias_table.detach().numpy()
    index = _get_relative_position_index(2, 2).numpy()
    ref = np.zeros_like(xa)
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        # torchvision scales by feat_dim ** -0.5 (8 here), not head_dim ** -0.5
        logits = q[..., sl] @ np.swapaxes(k[..., sl], -1, -2) * 8**-0.5 + table[index, h]
        wts = np.exp(logits - logits.max(-1, keepdims=True))
        ref[..., sl] = (wts / wts.sum(-1, keepdims=True)) @ v[..., sl]
    ref = ref @ attn.merge.weight.detach().numpy().T + attn.merge.bias.detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)


def test_swin_v2_coords_table_and_index_match_numpy():
    ws = [3, 4]
    table = _relative_coords_table(ws).numpy()
    assert table.shape == (1, 5, 7, 2)
    for a in range(5):
        for b in range(7):
            dy, dx = (a - 2) / 2 * 8, (b - 3) / 3 * 8
            expected = [np.sign(t) * np.log2(abs(t) + 1) / 3 for t in (dy, dx)]
            np.testing.assert_allclose(table[0, a, b], expected, rtol=1e-6, atol=1e-7)
    assert abs(table).max() == pytest.approx(math.log2(9) / 3)
    index = _relative_position_index(ws).numpy().reshape(12, 12)
    for i in range(12):
        for j in range(12):
            dy = i // 4 - j // 4 + 2
            dx = i % 4 - j % 4 + 3
            assert index[i, j] == dy * 7 + dx


def _v2_window_attention_reference(x, attn, shift):
    """Swin V2 window attention for one head, B=1, from first principles: the key has no bias,
    logits are cosine similarities times exp(min(logit_scale, log 100)), plus
    16 * sigmoid(cpb_mlp(log-spaced offset)); shifted windows add -100 to keys from other
    regions."""
    xa = x.numpy()[0]
    H, W, C = xa.shape
    ws = attn.window_size[0]
    bias = attn.qkv.bias.detach().numpy().copy()
    bias[C : 2 * C] = 0.0
    qkv = xa @ attn.qkv.weight.detach().numpy().T + bias
    q, k, v = qkv[..., :C], qkv[..., C : 2 * C], qkv[..., 2 * C :]
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    k = k / np.linalg.norm(k, axis=-1, keepdims=True)
    scale = np.exp(min(float(attn.logit_scale.detach().numpy()[0, 0, 0]), np.log(100.0)))
    mlp = attn.cpb_mlp
    w0, b0 = mlp[0].weight.detach().numpy(), mlp[0].bias.detach().numpy()
    w2 = mlp[2].weight.detach().numpy()

    def cpb(dy, dx):
        t = np.array([dy / (ws - 1) * 8, dx / (ws - 1) * 8])
        t = np.sign(t) * np.log2(np.abs(t) + 1) / 3
        return 16 / (1 + np.exp(-(np.maximum(t @ w0.T + b0, 0) @ w2.T)[0]))

    def region(r, n):
        return 0 if r < n - ws else (1 if r < n - shift else 2)

    out = np.zeros_like(xa)
    for i in range(H):
        for j in range(W):
            ri, rj = (i - shift) % H, (j - shift) % W
            logits, vals = [], []
            for a in range(H):
                for b in range(W):
                    ra, rb = (a - shift) % H, (b - shift) % W
                    if ra // ws != ri // ws or rb // ws != rj // ws:
                        continue
                    # torchvision's mask is additive -100, not exclusion: with logits scaled
                    # up to 100 a masked key can still get weight, and the models match that
                    other = (region(ra, H), region(rb, W)) != (region(ri, H), region(rj, W))
                    logits.append(
                        scale * (q[i, j] @ k[a, b])
                        + cpb(ri % ws - ra % ws, rj % ws - rb % ws)
                        - (100.0 if shift and other else 0.0)
                    )
                    vals.append(v[a, b])
            wts = np.exp(np.array(logits) - max(logits))
            out[i, j] = (wts / wts.sum()) @ np.array(vals)
    return out @ attn.proj.weight.detach().numpy().T + attn.proj.bias.detach().numpy()


@pytest.mark.parametrize("shift", [0, 1])
def test_swin_v2_window_attention_matches_a_first_principles_reference(shift):
    torch.manual_seed(0)
    attn = ShiftedWindowAttentionV2(4, [3, 3], [shift, shift], num_heads=1).eval()
    k_bias = attn.qkv.bias.detach().numpy()[4:8]
    assert not k_bias.any()  # torchvision zeroes the key bias at init
    with torch.no_grad():
        torch.nn.init.normal_(attn.qkv.bias, std=0.5)  # the forward must ignore the key part
        attn.logit_scale.fill_(math.log(300.0))  # clamped to log(100)
    x = torch.randn(1, 6, 6, 4)
    with torch.no_grad():
        got = attn(x).numpy()[0]
    np.testing.assert_allclose(got, _v2_window_attention_reference(x, attn, shift), atol=1e-4)


def test_swin_v2_post_norm_blocks_and_patch_merging():
    torch.manual_seed(0)
    merge = PatchMergingV2(2)
    x = torch.randn(1, 4, 4, 2)
    with torch.no_grad():
        got = merge(x).numpy()
    xa = x.numpy()[0]
    cat = np.concatenate([xa[0::2, 0::2], xa[1::2, 0::2], xa[0::2, 1::2], xa[1::2, 1::2]], -1)
    red = cat @ merge.reduction.weight.detach().numpy().T
    ref = (red - red.mean(-1, keepdims=True)) / np.sqrt(red.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(got[0], ref, rtol=1e-4, atol=1e-5)
    model = models.swin_v2_t(num_classes=3).eval()
    block = model.features[1][1]
    assert block.attn.shift_size == [4, 4] and block.attn.window_size == [8, 8]
    # residual post-norm: x + norm1(attn(x)); zeroing norm1 and norm2 makes the block identity
    with torch.no_grad():
        for ln in (block.norm1, block.norm2):
            ln.weight.zero_()
            ln.bias.zero_()
        y = torch.randn(1, 8, 8, 96)
        np.testing.assert_allclose(block(y).numpy(), y.numpy())
        assert tuple(model(torch.randn(2, 3, 40, 56)).shape) == (2, 3)


def test_efficientnet_v2_blocks_and_stochastic_depth():
    from tocha.vision.models.efficientnet import FusedMBConv, MBConv

    model = models.efficientnet_v2_s()
    stages = [type(stage[0]).__name__ for stage in model.features[1:7]]
    assert stages == ["FusedMBConv"] * 3 + ["MBConv"] * 3
    assert [len(stage) for stage in model.features[1:7]] == [2, 4, 4, 6, 9, 15]
    assert isinstance(model.features[1][0], FusedMBConv)
    assert isinstance(model.features[4][0], MBConv)
    assert model.features[0][1].eps == 1e-3
    assert model.features[7][0].out_channels == 1280
    blocks = [b for stage in model.features[1:7] for b in stage]
    np.testing.assert_allclose(
        [b.stochastic_depth.p for b in blocks], 0.2 * np.arange(40) / 40, rtol=1e-12
    )
    assert model.classifier[0].p == 0.2
    assert models.efficientnet_v2_m(num_classes=2).classifier[0].p == 0.3
