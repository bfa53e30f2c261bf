"""tocha.vision.datasets: torchvision's datasets (``torchvision.datasets``).

Every dataset is a :class:`tocha.core.utils.data.Dataset` whose items are, by default, a PIL
image and an ``int`` target; ``transform``/``target_transform``/``transforms`` work as in
torchvision. Files are read from ``root`` in each dataset's published layout; ``download=True``
fetches them with checksum checks, and offline the error says which file to place where.

Example:
    >>> from tocha.vision import datasets
    >>> ds = datasets.FakeData(size=3, image_size=(1, 4, 5), num_classes=2)
    >>> img, target = ds[0]
    >>> img.mode, img.size, target in (0, 1)
    ('L', (5, 4), True)
"""

from ._dataset_wrapper import wrap_dataset_for_transforms_v2
from .cifar import CIFAR10, CIFAR100
from .coco import CocoCaptions, CocoDetection
from .fakedata import FakeData
from .folder import IMG_EXTENSIONS, DatasetFolder, ImageFolder, default_loader, pil_loader
from .imagenet import ImageNet
from .mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from .svhn import SVHN
from .vision import StandardTransform, VisionDataset
from .voc import VOCDetection, VOCSegmentation

__all__ = [
    "CIFAR10",
    "CIFAR100",
    "EMNIST",
    "IMG_EXTENSIONS",
    "KMNIST",
    "MNIST",
    "SVHN",
    "CocoCaptions",
    "CocoDetection",
    "DatasetFolder",
    "FakeData",
    "FashionMNIST",
    "ImageFolder",
    "ImageNet",
    "StandardTransform",
    "VOCDetection",
    "VOCSegmentation",
    "VisionDataset",
    "default_loader",
    "pil_loader",
    "wrap_dataset_for_transforms_v2",
]
