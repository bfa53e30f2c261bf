"""tocha-vision attention-block benchmarks vs torch: Swin-V2 and MaxViT (issue 6).

torchvision has no CPU build here, so the anchor is the same block written with torch.nn below
(torchvision's layout and module names, so tocha's state_dict loads into it and the outputs
are checked equal before timing):

- one Swin-V2-T stage-1 block (``SwinTransformerBlockV2``: dim 96, 3 heads, 8x8 windows
  shifted by 4, scaled cosine attention, continuous position bias MLP), on the 64x64 token map
  of a 256x256 image;
- one MaxViT-T block-1 grid-attention layer (``PartitionAttentionLayer``: dim 64, head_dim 32,
  P = 7, relative-position bias table), on the 56x56 map of a 224x224 image.

Both in eval mode under no_grad, batch 2.

    python benchmarks/vision_attention.py --rounds 5
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Workload, measure, table  # noqa: E402


def _torch_swin_v2_block():
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Attn(nn.Module):
        def __init__(self, dim, ws, shift, heads):
            super().__init__()
            self.ws, self.shift, self.heads = ws, shift, heads
            self.qkv = nn.Linear(dim, 3 * dim)
            self.proj = nn.Linear(dim, dim)
            self.logit_scale = nn.Parameter(torch.zeros(heads, 1, 1))
            self.cpb_mlp = nn.Sequential(
                nn.Linear(2, 512), nn.ReLU(inplace=True), nn.Linear(512, heads, bias=False)
            )
            self.register_buffer("relative_coords_table", torch.zeros(1, 2 * ws - 1, 2 * ws - 1, 2))
            self.register_buffer("relative_position_index", torch.zeros(ws**4, dtype=torch.long))

        def forward(self, x):
            B, H, W, C = x.shape
            ws, s, nh = self.ws, self.shift, self.heads
            n = ws * ws
            table = self.cpb_mlp(self.relative_coords_table).view(-1, nh)
            bias = table[self.relative_position_index].view(n, n, nh).permute(2, 0, 1)
            bias = 16 * torch.sigmoid(bias)
            x = torch.roll(x, (-s, -s), (1, 2))
            nw = (H // ws) * (W // ws)
            x = x.view(B, H // ws, ws, W // ws, ws, C).permute(0, 1, 3, 2, 4, 5)
            x = x.reshape(B * nw, n, C)
            qkv_bias = torch.cat(
                [self.qkv.bias[:C], torch.zeros_like(self.qkv.bias[:C]), self.qkv.bias[2 * C :]]
            )
            qkv = F.linear(x, self.qkv.weight, qkv_bias)
            q, k, v = qkv.reshape(B * nw, n, 3, nh, C // nh).permute(2, 0, 3, 1, 4)
            attn = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
            attn = attn * torch.clamp(self.logit_scale, max=math.log(100.0)).exp() + bias
            mask = x.new_zeros(H, W)
            cnt = 0
            for hs in ((0, -ws), (-ws, -s), (-s, None)):
                for wsl in ((0, -ws), (-ws, -s), (-s, None)):
                    mask[hs[0] : hs[1], wsl[0] : wsl[1]] = cnt
                    cnt += 1
            mask = mask.view(H // ws, ws, W // ws, ws).permute(0, 2, 1, 3).reshape(nw, n)
            mask = mask.unsqueeze(1) - mask.unsqueeze(2)
            mask = mask.masked_fill(mask != 0, -100.0)
            attn = (attn.view(B, nw, nh, n, n) + mask.unsqueeze(1)).view(-1, nh, n, n)
            x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B * nw, n, C)
            x = self.proj(x).view(B, H // ws, W // ws, ws, ws, C).permute(0, 1, 3, 2, 4, 5)
            return torch.roll(x.reshape(B, H, W, C), (s, s), (1, 2))

    class Block(nn.Module):
        def __init__(self, dim=96, heads=3, ws=8, shift=4):
            super().__init__()
            self.norm1 = nn.LayerNorm(dim)
            self.attn = Attn(dim, ws, shift, heads)
            self.norm2 = nn.LayerNorm(dim)
            self.mlp = nn.Sequential(
                nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(0.0), nn.Linear(4 * dim, dim)
            )

        def forward(self, x):
            x = x + self.norm1(self.attn(x))
            return x + self.norm2(self.mlp(x))

    return Block().eval(), torch


def _torch_maxvit_grid_layer():
    import torch
    from torch import nn

    class RelAttn(nn.Module):
        def __init__(self, dim, head_dim, size):
            super().__init__()
            self.nh, self.hd, self.n = dim // head_dim, head_dim, size * size
            self.to_qkv = nn.Linear(dim, 3 * dim)
            self.merge = nn.Linear(dim, dim)
            self.scale = dim**-0.5
            self.relative_position_bias_table = nn.Parameter(
                torch.zeros((2 * size - 1) ** 2, self.nh)
            )
            self.register_buffer("relative_position_index", torch.zeros(self.n, self.n).long())

        def forward(self, x):
            B, G, P, D = x.shape
            q, k, v = (
                t.reshape(B, G, P, self.nh, self.hd).permute(0, 1, 3, 2, 4)
                for t in self.to_qkv(x).chunk(3, -1)
            )
            bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
            bias = bias.view(self.n, self.n, -1).permute(2, 0, 1)
            attn = (q @ (k * self.scale).transpose(-2, -1) + bias).softmax(-1)
            return self.merge((attn @ v).permute(0, 1, 3, 2, 4).reshape(B, G, P, D))

    class GridLayer(nn.Module):
        def __init__(self, dim=64, head_dim=32, partition=7, grid=56):
            super().__init__()
            self.p = grid // partition  # grid attention: blocks of grid/P, axes swapped
            self.attn_layer = nn.Sequential(
                nn.LayerNorm(dim), RelAttn(dim, head_dim, partition), nn.Dropout(0.0)
            )
            self.mlp_layer = nn.Sequential(
                nn.LayerNorm(dim), nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim),
                nn.Dropout(0.0),
            )  # fmt: skip

        def forward(self, x):
            B, C, H, W = x.shape
            p = self.p
            x = x.reshape(B, C, H // p, p, W // p, p).permute(0, 2, 4, 3, 5, 1)
            x = x.reshape(B, (H // p) * (W // p), p * p, C).swapaxes(-2, -3)
            x = x + self.attn_layer(x)
            x = x + self.mlp_layer(x)
            x = x.swapaxes(-2, -3).reshape(B, H // p, W // p, p, p, C).permute(0, 5, 1, 3, 2, 4)
            return x.reshape(B, C, H, W)

    return GridLayer().eval(), torch


def _tocha_swin_v2_block():
    import tocha.core as lib
    from tocha.vision.models.swin_transformer import SwinTransformerBlockV2

    lib.manual_seed(0)
    return SwinTransformerBlockV2(96, 3, [8, 8], [4, 4]).eval(), lib


def _tocha_maxvit_grid_layer():
    import tocha.core as lib
    from tocha.vision.models import maxvit_t

    lib.manual_seed(0)
    return maxvit_t().blocks[0].layers[1].layers.grid_attention.eval(), lib


def _pair(tocha_build, torch_build, shape):
    """Build both, copy tocha's weights into torch, check the outputs agree."""
    model_t, lib_t = tocha_build()
    model_a, lib_a = torch_build()
    state = {k: lib_a.from_numpy(np.array(v.numpy())) for k, v in model_t.state_dict().items()}
    model_a.load_state_dict(state, strict=False)
    missing = set(model_a.state_dict()) - set(state)
    assert not missing, f"torch block has keys tocha lacks: {sorted(missing)}"
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xt, xa = lib_t.tensor(x), lib_a.tensor(x)
    with lib_t.no_grad(), lib_a.no_grad():
        np.testing.assert_allclose(model_t(xt).numpy(), model_a(xa).numpy(), rtol=2e-3, atol=2e-4)
    return (model_t, lib_t, xt), (model_a, lib_a, xa)


def _maker(pair_fn, side):
    def make():
        model, lib, x = pair_fn()[side]

        def step():
            with lib.no_grad():
                model(x)

        return step

    return make


def workloads() -> list[Workload]:
    def swin():
        return _pair(_tocha_swin_v2_block, _torch_swin_v2_block, (2, 64, 64, 96))

    def maxvit():
        return _pair(_tocha_maxvit_grid_layer, _torch_maxvit_grid_layer, (2, 64, 56, 56))

    return [
        Workload("Swin-V2-T stage-1 block, batch 2, 64x64x96", "vision", _maker(swin, 0),
                 _maker(swin, 1), 1.5),
        Workload("MaxViT-T grid attention layer, batch 2, 64x56x56", "vision",
                 _maker(maxvit, 0), _maker(maxvit, 1), 1.5),
    ]  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    print(table([measure(w, rounds=args.rounds) for w in workloads()], "torch"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
