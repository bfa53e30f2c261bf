"""tocha.vision.io: reading, decoding, encoding and writing images (torchvision.io's names).

Images are uint8 ``[C, H, W]`` tensors; encoded files are 1-D uint8 tensors of bytes. Pillow
does the work underneath. Video reading is not provided.

Example:
    >>> import tocha.core as torch
    >>> from tocha.vision import io
    >>> img = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    >>> io.decode_png(io.encode_png(img)).equal(img)
    True
"""

from ._image import (
    ImageReadMode,
    decode_avif,
    decode_gif,
    decode_image,
    decode_jpeg,
    decode_png,
    decode_webp,
    encode_jpeg,
    encode_png,
    read_file,
    read_image,
    write_file,
    write_jpeg,
    write_png,
)

__all__ = [
    "ImageReadMode",
    "decode_avif",
    "decode_gif",
    "decode_image",
    "decode_jpeg",
    "decode_png",
    "decode_webp",
    "encode_jpeg",
    "encode_png",
    "read_file",
    "read_image",
    "write_file",
    "write_jpeg",
    "write_png",
]
