"""Backbones for the detectors (torchvision.models.detection.backbone_utils): a classification
trunk cut at intermediate layers, with a Feature Pyramid Network on top."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable

from tocha.core import nn

from ...ops.feature_pyramid_network import (
    ExtraFPNBlock,
    FeaturePyramidNetwork,
    LastLevelMaxPool,
    LastLevelP6P7,
)
from .. import mobilenetv3, resnet
from ._frozen_bn import FrozenBatchNorm2d

__all__ = [
    "BackboneWithFPN",
    "IntermediateLayerGetter",
    "mobilenet_backbone",
    "resnet_fpn_backbone",
]


class IntermediateLayerGetter(nn.ModuleDict):
    """The children of ``model`` up to the last one named in ``return_layers``, run in order;
    returns an OrderedDict of the outputs of the named ones under their new names.

    Children must be registered in the order they run (true of the classification models).

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import resnet18
        >>> from tocha.vision.models.detection.backbone_utils import IntermediateLayerGetter
        >>> body = IntermediateLayerGetter(resnet18(), {"layer1": "a", "layer3": "b"})
        >>> [(k, tuple(v.shape)) for k, v in body(torch.zeros(1, 3, 64, 64)).items()]
        [('a', (1, 64, 16, 16)), ('b', (1, 256, 4, 4))]
    """

    def __init__(self, model: nn.Module, return_layers: dict[str, str]) -> None:
        names = [name for name, _ in model.named_children()]
        if not set(return_layers).issubset(names):
            raise ValueError(
                f"IntermediateLayerGetter: return_layers {sorted(return_layers)} are not all "
                f"children of the model ({names})"
            )
        orig_return_layers = dict(return_layers)
        remaining = dict(return_layers)
        layers: OrderedDict = OrderedDict()
        for name, module in model.named_children():
            layers[name] = module
            remaining.pop(name, None)
            if not remaining:
                break
        super().__init__(layers)
        self.return_layers = orig_return_layers

    def forward(self, x) -> OrderedDict:
        out = OrderedDict()
        for name, module in self.items():
            x = module(x)
            if name in self.return_layers:
                out[self.return_layers[name]] = x
        return out


class BackboneWithFPN(nn.Module):
    """``body`` (an :class:`IntermediateLayerGetter`) followed by ``fpn``; every output level
    has ``out_channels`` channels.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models import resnet18
        >>> from tocha.vision.models.detection.backbone_utils import BackboneWithFPN
        >>> m = BackboneWithFPN(resnet18(), {"layer2": "0", "layer4": "1"}, [128, 512], 16)
        >>> [(k, tuple(v.shape)) for k, v in m(torch.zeros(1, 3, 64, 64)).items()]
        [('0', (1, 16, 8, 8)), ('1', (1, 16, 2, 2)), ('pool', (1, 16, 1, 1))]
    """

    def __init__(
        self,
        backbone: nn.Module,
        return_layers: dict[str, str],
        in_channels_list: list[int],
        out_channels: int,
        extra_blocks: ExtraFPNBlock | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        self.body = IntermediateLayerGetter(backbone, return_layers=return_layers)
        self.fpn = FeaturePyramidNetwork(
            in_channels_list=in_channels_list,
            out_channels=out_channels,
            extra_blocks=extra_blocks,
            norm_layer=norm_layer,
        )
        self.out_channels = out_channels

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        # torchvision's version-1 FPN (the COCO checkpoints) had bare Conv2d blocks
        for blocks in ("inner_blocks", "layer_blocks"):
            for i in range(len(getattr(self.fpn, blocks))):
                for kind in ("weight", "bias"):
                    old_key = f"{prefix}fpn.{blocks}.{i}.{kind}"
                    if old_key in state_dict:
                        state_dict[f"{prefix}fpn.{blocks}.{i}.0.{kind}"] = state_dict.pop(old_key)
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    def forward(self, x) -> OrderedDict:
        return self.fpn(self.body(x))


def resnet_fpn_backbone(
    *,
    backbone_name: str,
    weights=None,
    norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d,
    trainable_layers: int = 3,
    returned_layers: list[int] | None = None,
    extra_blocks: ExtraFPNBlock | None = None,
) -> BackboneWithFPN:
    """A ResNet (``backbone_name``, e.g. ``"resnet50"``) with an FPN on its stages.

    Example:
        >>> from tocha.vision.models.detection.backbone_utils import resnet_fpn_backbone
        >>> m = resnet_fpn_backbone(backbone_name="resnet18", weights=None, trainable_layers=5)
        >>> m.out_channels, m.fpn.inner_blocks[3][0].in_channels
        (256, 512)
    """
    backbone = getattr(resnet, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _resnet_fpn_extractor(backbone, trainable_layers, returned_layers, extra_blocks)


def _resnet_fpn_extractor(
    backbone: resnet.ResNet,
    trainable_layers: int,
    returned_layers: list[int] | None = None,
    extra_blocks: ExtraFPNBlock | None = None,
    norm_layer: Callable[..., nn.Module] | None = None,
) -> BackboneWithFPN:
    if trainable_layers < 0 or trainable_layers > 5:
        raise ValueError(f"Trainable layers should be in the range [0,5], got {trainable_layers}")
    layers_to_train = ["layer4", "layer3", "layer2", "layer1", "conv1"][:trainable_layers]
    if trainable_layers == 5:
        layers_to_train.append("bn1")
    for name, parameter in backbone.named_parameters():
        if all(not name.startswith(layer) for layer in layers_to_train):
            parameter.requires_grad_(False)
    if extra_blocks is None:
        extra_blocks = LastLevelMaxPool()
    if returned_layers is None:
        returned_layers = [1, 2, 3, 4]
    if min(returned_layers) <= 0 or max(returned_layers) >= 5:
        raise ValueError(f"Each returned layer should be in the range [1,4]. Got {returned_layers}")
    return_layers = {f"layer{k}": str(v) for v, k in enumerate(returned_layers)}
    in_channels_stage2 = backbone.inplanes // 8
    in_channels_list = [in_channels_stage2 * 2 ** (i - 1) for i in returned_layers]
    return BackboneWithFPN(
        backbone,
        return_layers,
        in_channels_list,
        256,
        extra_blocks=extra_blocks,
        norm_layer=norm_layer,
    )


def _validate_trainable_layers(
    is_trained: bool,
    trainable_backbone_layers: int | None,
    max_value: int,
    default_value: int,
    stacklevel: int = 3,
) -> int:
    # without pretrained weights nothing should be frozen
    if not is_trained:
        if trainable_backbone_layers is not None:
            # stacklevel: the warning points at the user's call of the model builder
            warnings.warn(
                "Changing trainable_backbone_layers has no effect if neither pretrained nor "
                "pretrained_backbone have been set to True, falling back to "
                f"trainable_backbone_layers={max_value} so that all layers are trainable",
                stacklevel=stacklevel,
            )
        trainable_backbone_layers = max_value
    if trainable_backbone_layers is None:
        trainable_backbone_layers = default_value
    if trainable_backbone_layers < 0 or trainable_backbone_layers > max_value:
        raise ValueError(
            f"Trainable backbone layers should be in the range [0,{max_value}], "
            f"got {trainable_backbone_layers} "
        )
    return trainable_backbone_layers


def _resnet50_fpn_backbone(
    weights,
    weights_backbone,
    progress: bool,
    trainable_backbone_layers: int | None,
    frozen_bn: bool = True,
    fpn_norm_layer: Callable[..., nn.Module] | None = None,
    p6p7_in_channels: int | None = None,
) -> BackboneWithFPN:
    """The ResNet-50-FPN backbone of the COCO detector builders (Faster/Mask/Keypoint R-CNN,
    RetinaNet, FCOS): 3 trainable stages by default once any weights are loaded, all 5
    otherwise.

    ``frozen_bn`` (the v1 recipes): a pretrained trunk keeps its BatchNorm statistics frozen
    (FrozenBatchNorm2d); the v2 recipes train BatchNorm. ``fpn_norm_layer`` normalises the
    FPN's convolutions (Faster/Mask R-CNN v2). With ``p6p7_in_channels`` (RetinaNet, FCOS)
    the FPN covers P3-P7: P2 is skipped as it gives too many anchors (RetinaNet paper), and
    P6/P7 come from a map of that many channels (256: P5, 2048: C5)."""
    is_trained = weights is not None or weights_backbone is not None
    # stacklevel 4: the warning points past this helper and the builder, at the user
    trainable_layers = _validate_trainable_layers(
        is_trained, trainable_backbone_layers, 5, 3, stacklevel=4
    )
    norm_layer = FrozenBatchNorm2d if is_trained and frozen_bn else nn.BatchNorm2d
    backbone = resnet.resnet50(weights=weights_backbone, progress=progress, norm_layer=norm_layer)
    fpn_kwargs = {}
    if p6p7_in_channels is not None:
        # created after the trunk (as torchvision does): seeded initialisation matches
        fpn_kwargs = {
            "returned_layers": [2, 3, 4],
            "extra_blocks": LastLevelP6P7(p6p7_in_channels, 256),
        }
    return _resnet_fpn_extractor(
        backbone, trainable_layers, norm_layer=fpn_norm_layer, **fpn_kwargs
    )


def _mobilenet_stage_indices(features: nn.Module) -> list[int]:
    """Where MobileNet's stages start in ``features``: the first block (C0), every strided
    block (C1 .. Cn-1) and the last block (Cn)."""
    strided = [i for i, b in enumerate(features) if getattr(b, "_is_cn", False)]
    return [0, *strided, len(features) - 1]


def _freeze_stages(blocks: nn.Module, stage_indices: list[int], trainable_layers: int) -> None:
    """Freeze the parameters of ``blocks`` before the last ``trainable_layers`` stages (all of
    them for 0); ``stage_indices`` are where the stages start."""
    num_stages = len(stage_indices)
    freeze_before = (
        len(blocks) if trainable_layers == 0 else stage_indices[num_stages - trainable_layers]
    )
    for b in blocks[:freeze_before]:
        for parameter in b.parameters():
            parameter.requires_grad_(False)


def _mobilenet_extractor(
    backbone: nn.Module,
    fpn: bool,
    trainable_layers: int,
    returned_layers: list[int] | None = None,
    extra_blocks: ExtraFPNBlock | None = None,
    norm_layer: Callable[..., nn.Module] | None = None,
) -> nn.Module:
    backbone = backbone.features
    stage_indices = _mobilenet_stage_indices(backbone)
    num_stages = len(stage_indices)
    if trainable_layers < 0 or trainable_layers > num_stages:
        raise ValueError(
            f"Trainable layers should be in the range [0,{num_stages}], got {trainable_layers} "
        )
    _freeze_stages(backbone, stage_indices, trainable_layers)
    out_channels = 256
    if fpn:
        if extra_blocks is None:
            extra_blocks = LastLevelMaxPool()
        if returned_layers is None:
            returned_layers = [num_stages - 2, num_stages - 1]
        if min(returned_layers) < 0 or max(returned_layers) >= num_stages:
            raise ValueError(
                f"Each returned layer should be in the range [0,{num_stages - 1}], "
                f"got {returned_layers} "
            )
        return_layers = {f"{stage_indices[k]}": str(v) for v, k in enumerate(returned_layers)}
        in_channels_list = [backbone[stage_indices[i]].out_channels for i in returned_layers]
        return BackboneWithFPN(
            backbone,
            return_layers,
            in_channels_list,
            out_channels,
            extra_blocks=extra_blocks,
            norm_layer=norm_layer,
        )
    # a 1x1 convolution reduces the last block's channels
    m = nn.Sequential(backbone, nn.Conv2d(backbone[-1].out_channels, out_channels, 1))
    m.out_channels = out_channels
    return m


def mobilenet_backbone(
    *,
    backbone_name: str,
    weights=None,
    fpn: bool,
    norm_layer: Callable[..., nn.Module] = FrozenBatchNorm2d,
    trainable_layers: int = 2,
    returned_layers: list[int] | None = None,
    extra_blocks: ExtraFPNBlock | None = None,
) -> nn.Module:
    """A MobileNetV3 (``backbone_name``, e.g. ``"mobilenet_v3_large"``) cut for detection, with an
    FPN over its last two stages (``fpn=True``) or a 1x1 convolution to 256 channels.

    Example:
        >>> import tocha.core as torch
        >>> from tocha.vision.models.detection.backbone_utils import mobilenet_backbone
        >>> m = mobilenet_backbone(backbone_name="mobilenet_v3_small", fpn=True, trainable_layers=6)
        >>> [(k, v.shape[1]) for k, v in m.eval()(torch.zeros(1, 3, 64, 64)).items()]
        [('0', 256), ('1', 256), ('pool', 256)]
    """
    backbone = getattr(mobilenetv3, backbone_name)(weights=weights, norm_layer=norm_layer)
    return _mobilenet_extractor(backbone, fpn, trainable_layers, returned_layers, extra_blocks)
