"""More tocha.vision.models architectures: parameter counts, shapes, a training step, key names."""

from __future__ import annotations

import numpy as np
import pytest

import tocha.core as torch
from tocha.vision import models

# torchvision's published parameter counts (its classification table / weights meta)
TORCHVISION_NUM_PARAMS = {
    "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
    "shufflenet_v2_x1_0": 2_278_604,
    "mnasnet1_0": 4_383_312,
    "convnext_tiny": 28_589_128,
    "regnet_x_400mf": 5_495_976,
    "regnet_y_400mf": 4_344_144,
    "googlenet": 6_624_904,
    "inception_v3": 27_161_264,
    "vit_b_16": 86_567_656,
    "vit_b_32": 88_224_232,
    "swin_t": 28_288_354,
}
# builder kwargs that match the published configuration (e.g. without auxiliary heads)
# (torchvision counts GoogLeNet without its two auxiliary heads, Inception v3 with its one)
PUBLISHED_KWARGS: dict[str, dict] = {"googlenet": {"aux_logits": False}}
# the generic step test wants a plain tensor out of training mode: auxiliary heads off there
STEP_KWARGS: dict[str, dict] = {
    "googlenet": {"aux_logits": False},
    "inception_v3": {"aux_logits": False},
    # ViT's position embedding fixes the input size: small images for the small tests
    "vit_b_16": {"image_size": 32},
    "vit_b_32": {"image_size": 64},
}
# smallest input each model accepts cheaply in the forward/backward test
STEP_SIZE = {
    "densenet121": 64,
    "squeezenet1_0": 64,
    "squeezenet1_1": 64,
    "shufflenet_v2_x1_0": 64,
    "mnasnet1_0": 64,
    "convnext_tiny": 64,
    "regnet_x_400mf": 64,
    "regnet_y_400mf": 64,
    "googlenet": 64,
    "inception_v3": 75,
    "vit_b_16": 32,
    "vit_b_32": 64,
    "swin_t": 64,
}
# torchvision state_dict keys each model must have (so its checkpoints load strictly)
KEYS = {
    "densenet121": [
        "features.conv0.weight",
        "features.denseblock1.denselayer1.norm1.running_mean",
        "features.denseblock4.denselayer16.conv2.weight",
        "features.transition3.conv.weight",
        "features.norm5.weight",
        "classifier.bias",
    ],
    "squeezenet1_0": [
        "features.3.squeeze.weight",
        "features.12.expand3x3.bias",
        "classifier.1.weight",
    ],
    "squeezenet1_1": [
        "features.3.expand1x1.weight",
        "features.12.expand3x3.bias",
        "classifier.1.bias",
    ],
    "shufflenet_v2_x1_0": [
        "conv1.0.weight",
        "stage2.0.branch1.0.weight",
        "stage2.1.branch2.6.running_var",
        "stage4.3.branch2.5.weight",
        "conv5.1.weight",
        "fc.weight",
    ],
    "mnasnet1_0": [
        "layers.0.weight",
        "layers.7.running_mean",
        "layers.8.0.layers.0.weight",
        "layers.13.0.layers.7.weight",
        "layers.15.running_var",
        "classifier.1.weight",
    ],
}
KEYS.update(
    {
        "convnext_tiny": [
            "features.0.0.weight",
            "features.0.1.bias",
            "features.1.0.layer_scale",
            "features.1.2.block.5.weight",
            "features.2.0.weight",
            "features.6.1.weight",
            "features.7.2.block.0.bias",
            "classifier.0.weight",
            "classifier.2.bias",
        ],
        "regnet_x_400mf": [
            "stem.0.weight",
            "trunk_output.block1.block1-0.proj.1.running_mean",
            "trunk_output.block2.block2-1.f.b.0.weight",
            "trunk_output.block4.block4-0.f.c.1.weight",
            "fc.weight",
        ],
        "regnet_y_400mf": [
            "stem.1.running_var",
            "trunk_output.block1.block1-0.f.se.fc1.weight",
            "trunk_output.block4.block4-5.f.se.fc2.bias",
            "trunk_output.block4.block4-5.f.c.0.weight",
            "fc.bias",
        ],
    }
)
KEYS.update(
    {
        "googlenet": [
            "conv1.conv.weight",
            "conv1.bn.running_var",
            "inception3a.branch1.conv.weight",
            "inception4e.branch4.1.bn.bias",
            "inception5b.branch3.1.conv.weight",
            "fc.weight",
        ],
        "inception_v3": [
            "Conv2d_1a_3x3.conv.weight",
            "Conv2d_4a_3x3.bn.running_mean",
            "Mixed_5b.branch5x5_2.conv.weight",
            "Mixed_6a.branch3x3dbl_3.bn.weight",
            "Mixed_6e.branch7x7dbl_5.conv.weight",
            "AuxLogits.conv1.conv.weight",
            "AuxLogits.fc.bias",
            "Mixed_7c.branch3x3dbl_3b.bn.running_var",
            "fc.weight",
        ],
    }
)
_VIT_KEYS = [
    "class_token",
    "conv_proj.weight",
    "encoder.pos_embedding",
    "encoder.layers.encoder_layer_0.ln_1.weight",
    "encoder.layers.encoder_layer_0.self_attention.in_proj_weight",
    "encoder.layers.encoder_layer_11.self_attention.out_proj.bias",
    "encoder.layers.encoder_layer_11.mlp.3.weight",
    "encoder.ln.bias",
    "heads.head.weight",
]
KEYS.update({"vit_b_16": _VIT_KEYS, "vit_b_32": _VIT_KEYS})
KEYS["swin_t"] = [
    "features.0.0.weight",
    "features.0.2.bias",
    "features.1.0.attn.relative_position_bias_table",
    "features.1.1.attn.relative_position_index",
    "features.1.1.attn.qkv.weight",
    "features.2.reduction.weight",
    "features.2.norm.weight",
    "features.5.5.mlp.3.bias",
    "features.7.1.attn.proj.weight",
    "norm.weight",
    "head.bias",
]
SLOW: set[str] = set()


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def _params(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]


@pytest.mark.parametrize("name", sorted(TORCHVISION_NUM_PARAMS))
def test_num_params_equal_torchvision(name):
    model = models.get_model(name, **PUBLISHED_KWARGS.get(name, {}))
    assert _count(model) == TORCHVISION_NUM_PARAMS[name]
    assert models.get_model_weights(name).DEFAULT.meta["num_params"] == _count(model)
    keys = set(model.state_dict())
    missing = [k for k in KEYS[name] if k not in keys]
    assert not missing, f"{name}: torchvision keys missing: {missing}"


@pytest.mark.parametrize("name", _params(sorted(STEP_SIZE)))
def test_forward_backward_step(name):
    torch.manual_seed(0)
    model = models.get_model(name, num_classes=7, **STEP_KWARGS.get(name, {}))
    size = STEP_SIZE[name]
    x = torch.randn(4, 3, size, size)
    target = torch.tensor([1, 5, 0, 3])
    model.train()

    def loss_at_seed():
        # the same seed before each forward repeats the dropout / drop-path masks
        torch.manual_seed(1)
        return torch.nn.functional.cross_entropy(model(x), target)

    out = model(x)
    assert tuple(out.shape) == (4, 7)
    with torch.no_grad():
        before = loss_at_seed().item()
    loss_at_seed().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads), f"{name}: some parameters got no gradient"
    assert all(np.isfinite(g.numpy()).all() for g in grads)
    # a short step down the gradient lowers the loss on the same batch. The step has a fixed
    # length in parameter space: freshly initialised nets with batch statistics have gradient
    # norms from 1e5 to 1e10, so no single learning rate suits them all.
    norm = float(np.sqrt(sum(float((g * g).sum().item()) for g in grads)))
    with torch.no_grad():
        for p in model.parameters():
            p -= (1e-3 / norm) * p.grad
        after = loss_at_seed().item()
    assert after < before, f"{name}: loss {before} -> {after}"


@pytest.mark.parametrize("name", sorted(STEP_SIZE))
def test_eval_output_shape_and_batch_independence(name):
    torch.manual_seed(0)
    model = models.get_model(name, num_classes=4, **STEP_KWARGS.get(name, {})).eval()
    size = STEP_SIZE[name]
    x = torch.randn(3, 3, size, size)
    with torch.no_grad():
        out = model(x)
        one = model(x[1:2])
    assert tuple(out.shape) == (3, 4)
    np.testing.assert_allclose(out.numpy()[1:2], one.numpy(), rtol=1e-4, atol=1e-5)


def test_weights_enums_name_torchvision_files():
    w = models.get_weight("DenseNet121_Weights.DEFAULT")
    assert w.url == "https://download.pytorch.org/models/densenet121-a639ec97.pth"
    assert len(w.meta["categories"]) == 1000
    assert (
        models.get_weight("Swin_T_Weights.IMAGENET1K_V1").url
        == "https://download.pytorch.org/models/swin_t-704ceda3.pth"
    )
    assert models.get_model_weights("squeezenet1_1").DEFAULT.meta["min_size"] == (17, 17)
    with pytest.raises(ValueError, match="num_classes"):
        models.densenet121(weights="DEFAULT", num_classes=10)


def test_densenet_loads_old_style_checkpoint_keys():
    from tocha.vision.models.densenet import _rename_old_keys

    src = models.densenet121(num_classes=3)
    # rewrite the keys the way the published checkpoint spells them ("norm.1")
    # (and, being older than PyTorch 0.4, without num_batches_tracked, which load tolerates)
    old = {}
    for k, v in src.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        for part in ("norm1", "norm2", "conv1", "conv2", "relu1", "relu2"):
            if "denselayer" in k and f".{part}." in k:
                k = k.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.")
        old[k] = v
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    dst = models.densenet121(num_classes=3)
    dst.load_state_dict(_rename_old_keys(old))
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        np.testing.assert_allclose(dst.eval()(x).numpy(), src.eval()(x).numpy(), rtol=1e-6)


def test_squeezenet_rejects_unknown_version():
    with pytest.raises(ValueError, match="1_2"):
        models.squeezenet.SqueezeNet("1_2")


def test_regnet_stage_parameters_follow_the_quantized_linear_rule():
    from tocha.vision.models.regnet import BlockParams

    # RegNetY-400MF / RegNetX-400MF stage tables of the paper (depths, widths, group widths)
    y = BlockParams.from_init_params(16, 48, 27.89, 2.09, 8, se_ratio=0.25)
    assert (y.depths, y.widths, y.group_widths) == ([1, 3, 6, 6], [48, 104, 208, 440], [8] * 4)
    x = BlockParams.from_init_params(22, 24, 24.48, 2.54, 16)
    assert (x.depths, x.widths) == ([1, 2, 7, 12], [32, 64, 160, 400])
    with pytest.raises(ValueError, match="w_0"):
        BlockParams.from_init_params(16, 50, 27.89, 2.09, 8)


def test_convnext_stochastic_depth_grows_linearly():
    model = models.convnext_tiny()
    probs = [m.p for m in model.modules() if type(m).__name__ == "StochasticDepth"]
    assert len(probs) == 18
    np.testing.assert_allclose(probs, np.linspace(0.0, 0.1, 18), atol=1e-12)


def test_googlenet_training_returns_aux_outputs_and_eval_a_tensor():
    torch.manual_seed(0)
    model = models.googlenet(num_classes=5)
    # the published 6,624,904 plus the two aux heads (1x1 conv + BN, fc1 2048->1024, fc2):
    # (512 + 528) * 128 + 2 * 256 + 2 * (2048 * 1024 + 1024) + 2 * (1024 * 5 + 5)
    aux = (512 + 528) * 128 + 2 * 256 + 2 * (2048 * 1024 + 1024) + 2 * (1024 * 5 + 5)
    main = 6_624_904 - (1024 * 1000 + 1000) + (1024 * 5 + 5)
    assert _count(model) == main + aux == 9_945_263
    x = torch.randn(2, 3, 64, 64)
    out = model.train()(x)
    assert type(out).__name__ == "GoogLeNetOutputs"
    assert [tuple(t.shape) for t in out] == [(2, 5)] * 3
    (out.logits.sum() + 0.3 * (out.aux_logits1.sum() + out.aux_logits2.sum())).backward()
    assert model.aux1.fc2.weight.grad is not None and model.aux2.conv.conv.weight.grad is not None
    with torch.no_grad():
        assert tuple(model.eval()(x).shape) == (2, 5)


def test_transform_input_maps_imagenet_normalization_to_unit_range():
    # a pixel p in [0, 1] normalized with ImageNet mean/std must become 2p - 1
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    p = np.random.default_rng(0).random((1, 3, 4, 4)).astype(np.float32)
    x = torch.tensor(((p - mean[:, None, None]) / std[:, None, None]).astype(np.float32))
    for model in (
        models.googlenet(transform_input=True, aux_logits=False),
        models.inception_v3(transform_input=True, aux_logits=False),
    ):
        np.testing.assert_allclose(model._transform_input(x).numpy(), 2 * p - 1, atol=1e-5)


def test_inception_aux_head_on_the_17x17_grid():
    from tocha.vision.models.inception import InceptionAux

    torch.manual_seed(0)
    aux = InceptionAux(768, 6)
    y = aux(torch.randn(2, 768, 17, 17))
    assert tuple(y.shape) == (2, 6)
    y.sum().backward()
    assert aux.conv1.conv.weight.grad is not None
    model = models.inception_v3(num_classes=6)
    # torchvision's initialisation: the aux head's 5x5 conv and fc use their own small stds
    assert model.AuxLogits.conv1.stddev == 0.01 and model.AuxLogits.fc.stddev == 0.001
    assert abs(float(model.AuxLogits.fc.weight.std().item()) - 0.001) < 2e-4
    assert abs(float(model.fc.weight.std().item()) - 0.1) < 0.01
    assert models.get_model_weights("inception_v3").DEFAULT.meta["min_size"] == (75, 75)


def test_vit_shapes_gradients_through_encoder_and_size_check():
    torch.manual_seed(0)
    model = models.vit_b_16(image_size=32, num_classes=5)
    assert model.seq_length == 5  # 2x2 patches + class token
    assert tuple(model.encoder.pos_embedding.shape) == (1, 5, 768)
    # torchvision zeroes the head; give it weights so gradients reach the encoder
    assert float(model.heads.head.weight.abs().sum().item()) == 0.0
    torch.nn.init.normal_(model.heads.head.weight, std=0.02)
    x = torch.randn(2, 3, 32, 32)
    y = model(x)
    assert tuple(y.shape) == (2, 5)
    y.square().sum().backward()
    for p in (model.conv_proj.weight, model.class_token, model.encoder.pos_embedding):
        assert float(p.grad.abs().sum().item()) > 0
    # the class token output depends on every patch (attention mixes the sequence)
    model.eval()
    x2 = x.clone()
    x2[:, :, 16:, 16:] = 0.0
    with torch.no_grad():
        assert not np.allclose(model(x).numpy(), model(x2).numpy())
    with pytest.raises(ValueError, match="wrong image size"):
        model(torch.zeros(1, 3, 48, 48))
    with pytest.raises(ValueError, match="indivisible"):
        models.vit_b_16(image_size=40)


def _window_attention_reference(x, attn, shift):
    """Plain NumPy window attention for a single-head (B=1) map; masks from first principles:
    a query sees the keys in its window of the rolled map that come from its own region."""
    xa = x.numpy()[0]
    H, W, C = xa.shape
    ws = attn.window_size[0]
    qkv = xa @ attn.qkv.weight.detach().numpy().T + attn.qkv.bias.detach().numpy()
    q, k, v = qkv[..., :C] * C**-0.5, qkv[..., C : 2 * C], qkv[..., 2 * C :]
    table = attn.relative_position_bias_table.detach().numpy()[:, 0]

    def region(r, n):  # rows of the rolled map that came from one contiguous original band
        return 0 if r < n - ws else (1 if r < n - shift else 2)

    out = np.zeros_like(xa)
    for i in range(H):
        for j in range(W):
            ri, rj = (i - shift) % H, (j - shift) % W  # position on the rolled map
            logits, vals = [], []
            for a in range(H):
                for b in range(W):
                    ra, rb = (a - shift) % H, (b - shift) % W
                    if ra // ws != ri // ws or rb // ws != rj // ws:
                        continue
                    if shift and (region(ra, H), region(rb, W)) != (region(ri, H), region(rj, W)):
                        continue
                    dy, dx = ri % ws - ra % ws + ws - 1, rj % ws - rb % ws + ws - 1
                    logits.append(q[i, j] @ k[a, b] + table[dy * (2 * ws - 1) + dx])
                    vals.append(v[a, b])
            w = np.exp(np.array(logits) - max(logits))
            out[i, j] = (w / w.sum()) @ np.array(vals)
    return out @ attn.proj.weight.detach().numpy().T + attn.proj.bias.detach().numpy()


@pytest.mark.parametrize("shift", [0, 2])
def test_swin_window_attention_matches_a_first_principles_reference(shift):
    from tocha.vision.models.swin_transformer import ShiftedWindowAttention

    torch.manual_seed(0)
    attn = ShiftedWindowAttention(4, [3, 3], [shift, shift], num_heads=1)
    torch.nn.init.normal_(attn.relative_position_bias_table, std=1.0)
    x = torch.randn(1, 6, 6, 4)
    with torch.no_grad():
        got = attn.eval()(x).numpy()[0]
    np.testing.assert_allclose(got, _window_attention_reference(x, attn, shift), atol=1e-5)


def test_swin_pads_odd_sizes_and_merges_patches():
    from tocha.vision.models.swin_transformer import PatchMerging, _patch_merging_pad

    x = torch.arange(2 * 3 * 3 * 1, dtype=torch.float32).reshape(2, 3, 3, 1)
    y = _patch_merging_pad(x)
    assert tuple(y.shape) == (2, 2, 2, 4)
    # the 2x2 block at the origin: (0,0), (1,0), (0,1), (1,1); the odd edge is zero-padded
    assert y.numpy()[0, 0, 0].tolist() == [0.0, 3.0, 1.0, 4.0]
    assert y.numpy()[0, 1, 1].tolist() == [8.0, 0.0, 0.0, 0.0]
    assert tuple(PatchMerging(1)(x).shape) == (2, 2, 2, 2)
    model = models.swin_t(num_classes=3).eval()
    with torch.no_grad():
        assert tuple(model(torch.randn(1, 3, 36, 44)).shape) == (1, 3)
