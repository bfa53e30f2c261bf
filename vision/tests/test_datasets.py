"""tocha.vision.datasets on tiny real-format fixtures written in tmp_path (and Debian's
Fashion-MNIST where installed)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pathlib
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

import tocha.core as torch
from tocha.core.utils.data import DataLoader
from tocha.vision import datasets
from tocha.vision.datasets.mnist import read_sn3_pascalvincent_tensor

# -- IDX (MNIST family) -------------------------------------------------------------------

_IDX_CODE = {np.uint8: 8, np.int8: 9, np.int16: 11, np.int32: 12, np.float32: 13, np.float64: 14}


def write_idx(path, arr, gz=False):
    arr = np.asarray(arr)
    header = bytes([0, 0, _IDX_CODE[arr.dtype.type], arr.ndim])
    header += b"".join(struct.pack(">I", n) for n in arr.shape)
    data = header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()
    if gz:
        path, data = str(path) + ".gz", gzip.compress(data)
    with open(path, "wb") as f:
        f.write(data)


def make_mnist(root, cls="MNIST", prefix=("train", "t10k"), n=(5, 3), gz=False, seed=0):
    raw = os.path.join(root, cls, "raw")
    os.makedirs(raw, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for p, count in zip(prefix, n):
        images = rng.integers(0, 256, (count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, count).astype(np.uint8)
        write_idx(os.path.join(raw, f"{p}-images-idx3-ubyte"), images, gz)
        write_idx(os.path.join(raw, f"{p}-labels-idx1-ubyte"), labels, gz)
        out[p] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_mnist_reads_idx_files(tmp_path, gz):
    ref = make_mnist(tmp_path, gz=gz)
    for train, key in ((True, "train"), (False, "t10k")):
        ds = datasets.MNIST(str(tmp_path), train=train)
        images, labels = ref[key]
        assert len(ds) == len(images)
        assert ds.data.dtype == torch.uint8 and tuple(ds.data.shape) == images.shape
        assert ds.targets.dtype == torch.int64
        np.testing.assert_array_equal(ds.data.numpy(), images)
        np.testing.assert_array_equal(ds.targets.numpy(), labels)
        img, target = ds[len(ds) - 1]
        assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
        np.testing.assert_array_equal(np.asarray(img), images[-1])
        assert type(target) is int and target == labels[-1]
    assert ds.class_to_idx["3 - three"] == 3
    assert repr(ds).splitlines() == [
        "Dataset MNIST",
        "    Number of datapoints: 3",
        f"    Root location: {tmp_path}",
        "    Split: Test",
    ]


def test_mnist_transforms_and_dataloader(tmp_path):
    ref = make_mnist(tmp_path)
    ds = datasets.MNIST(
        tmp_path,
        transform=lambda im: torch.from_numpy(np.asarray(im, dtype=np.float32) / 255),
        target_transform=lambda t: t + 100,
    )
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(x.shape) == (4, 28, 28)
    np.testing.assert_allclose(x.numpy(), ref["train"][0][:4] / np.float32(255), rtol=1e-6)
    assert y.tolist() == [int(v) + 100 for v in ref["train"][1][:4]]


def test_mnist_missing_files_say_what_to_place_where(tmp_path):
    with pytest.raises(RuntimeError) as e:
        datasets.MNIST(tmp_path, train=False)
    msg = str(e.value)
    assert "download=True" in msg and "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte" in msg
    assert os.path.join(str(tmp_path), "MNIST", "raw") in msg


def test_mnist_download_offline_names_file_and_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.MNIST, "mirrors", [(tmp_path / "mirror").as_uri() + "/"])
    with pytest.raises(RuntimeError) as e:
        datasets.MNIST(tmp_path / "root", download=True)
    msg = str(e.value)
    raw = os.path.join(str(tmp_path / "root"), "MNIST", "raw")
    assert "train-images-idx3-ubyte.gz (md5 f68b3c2dcbeaaa9fbdd348bbdeb94873)" in msg
    assert f"in {raw}" in msg


def test_mnist_download_from_a_mirror_checks_md5(tmp_path, monkeypatch):
    ref = make_mnist(tmp_path / "m", cls="", gz=True)
    mirror = tmp_path / "m" / "raw"
    files = sorted(os.listdir(mirror))
    resources = [(f, hashlib.md5((mirror / f).read_bytes()).hexdigest()) for f in files]
    monkeypatch.setattr(datasets.MNIST, "mirrors", [mirror.as_uri() + "/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    ds = datasets.MNIST(tmp_path / "root", train=True, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), ref["train"][0])
    # A corrupt mirror is refused by its MD5.
    monkeypatch.setattr(datasets.MNIST, "resources", [(files[0], "0" * 32)])
    with pytest.raises(RuntimeError, match="could not download"):
        datasets.MNIST(tmp_path / "root2", download=True)


def test_idx_reader_dtypes_and_errors(tmp_path):
    for dtype in (np.int16, np.int32, np.float32, np.float64, np.int8):
        arr = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
        write_idx(tmp_path / "x", arr)
        got = read_sn3_pascalvincent_tensor(tmp_path / "x").numpy()
        assert got.dtype == np.dtype(dtype) and got.dtype.isnative
        np.testing.assert_array_equal(got, arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="is not an IDX file"):
        read_sn3_pascalvincent_tensor(tmp_path / "bad")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x05")
    with pytest.raises(ValueError, match=r"shape \(9,\).*only 1 bytes follow"):
        read_sn3_pascalvincent_tensor(tmp_path / "short")


def test_kmnist_fashion_and_emnist_layouts(tmp_path):
    make_mnist(tmp_path, cls="KMNIST")
    ds = datasets.KMNIST(tmp_path)
    assert ds.classes[3] == "tsu" and len(ds) == 5
    make_mnist(tmp_path, cls="FashionMNIST", gz=True)
    ds = datasets.FashionMNIST(tmp_path, train=False)
    assert ds.classes[9] == "Ankle boot" and len(ds) == 3
    ref = make_mnist(
        tmp_path, cls="EMNIST", prefix=("emnist-letters-train", "emnist-letters-test"), n=(4, 2)
    )
    ds = datasets.EMNIST(tmp_path, split="letters", train=False)
    np.testing.assert_array_equal(ds.data.numpy(), ref["emnist-letters-test"][0])
    assert ds.classes[:3] == ["N/A", "a", "b"] and len(ds.classes) == 27
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(ValueError, match="Unknown value 'letter' for argument split"):
        datasets.EMNIST(tmp_path, split="letter")
    with pytest.raises(RuntimeError, match="emnist-digits-train-images-idx3-ubyte"):
        datasets.EMNIST(tmp_path, split="digits")


DEBIAN_FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(
    not os.path.isfile(os.path.join(DEBIAN_FASHION, "t10k-labels-idx1-ubyte.gz")),
    reason="Debian package dataset-fashion-mnist is not installed (apt-get install "
    "dataset-fashion-mnist)",
)
def test_fashion_mnist_from_the_debian_package(tmp_path):
    for train, n in ((True, 60000), (False, 10000)):
        ds = datasets.FashionMNIST(tmp_path / "empty", train=train)
        assert len(ds) == n and tuple(ds.data.shape) == (n, 28, 28)
        # Fashion-MNIST is balanced: every class has a tenth of each split.
        assert np.bincount(ds.targets.numpy()).tolist() == [n // 10] * 10
    # Cross-check one item against a direct read of the gzipped IDX bytes.
    with gzip.open(os.path.join(DEBIAN_FASHION, "t10k-images-idx3-ubyte.gz")) as f:
        raw = f.read()
    with gzip.open(os.path.join(DEBIAN_FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
        labels = f.read()
    assert raw[:4] == b"\x00\x00\x08\x03" and struct.unpack(">III", raw[4:16]) == (10000, 28, 28)
    img, target = ds[1234]
    np.testing.assert_array_equal(
        np.asarray(img), np.frombuffer(raw, np.uint8, 784, 16 + 1234 * 784).reshape(28, 28)
    )
    assert target == labels[8 + 1234] and ds.classes[0] == "T-shirt/top"


# -- CIFAR ---------------------------------------------------------------------------------


def make_cifar(root, n=3, hundred=False, protocol=2, seed=0):
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, "cifar-100-python" if hundred else "cifar-10-batches-py")
    os.makedirs(folder, exist_ok=True)
    names = ["train", "test"] if hundred else [f"data_batch_{i}" for i in range(1, 6)]
    names = names if hundred else [*names, "test_batch"]
    ref = {}
    for name in names:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = rng.integers(0, 100 if hundred else 10, n).tolist()
        entry = {"batch_label": f"batch {name}", "data": data, "filenames": ["a.png"] * n}
        entry["fine_labels" if hundred else "labels"] = labels
        if hundred:
            entry["coarse_labels"] = [0] * n
        with open(os.path.join(folder, name), "wb") as f:
            pickle.dump(entry, f, protocol=protocol)
        ref[name] = (data, labels)
    meta_name, key = ("meta", "fine_label_names") if hundred else ("batches.meta", "label_names")
    with open(os.path.join(folder, meta_name), "wb") as f:
        pickle.dump({key: [f"class{i}" for i in range(100 if hundred else 10)]}, f)
    return folder, ref


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_batches(tmp_path, protocol):
    _, ref = make_cifar(tmp_path, protocol=protocol)
    train = datasets.CIFAR10(tmp_path, train=True)
    assert len(train) == 15 and train.data.shape == (15, 32, 32, 3)
    assert train.targets == sum((ref[f"data_batch_{i}"][1] for i in range(1, 6)), [])
    test = datasets.CIFAR10(tmp_path, train=False)
    data, labels = ref["test_batch"]
    img, target = test[2]
    assert img.mode == "RGB" and img.size == (32, 32) and target == labels[2]
    # Rows are channel-major: 1024 red values, then green, then blue, each row by row.
    pix = np.asarray(img)
    for y, x in ((0, 0), (5, 17), (31, 31)):
        expect = [data[2, c * 1024 + y * 32 + x] for c in range(3)]
        assert pix[y, x].tolist() == expect
    assert test.classes[target] == f"class{target}" and test.class_to_idx["class4"] == 4


def test_cifar100_fine_labels(tmp_path):
    _, ref = make_cifar(tmp_path, hundred=True)
    ds = datasets.CIFAR100(tmp_path, train=False)
    assert ds.targets == ref["test"][1] and len(ds.classes) == 100
    assert repr(ds).splitlines()[-1] == "    Split: Test"


def test_cifar_refuses_pickles_that_run_code(tmp_path):
    folder, _ = make_cifar(tmp_path)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with open(os.path.join(folder, "test_batch"), "wb") as f:
        pickle.dump({"data": Evil(), "labels": [1]}, f)
    with pytest.raises(pickle.UnpicklingError, match=r"test_batch.*system.*not allowed"):
        datasets.CIFAR10(tmp_path, train=False)
    assert not marker.exists()
    # A class with a __setstate__ (BUILD) is refused as well.
    with open(os.path.join(folder, "test_batch"), "wb") as f:
        pickle.dump({"data": np.zeros((1, 3072), np.uint8), "labels": [torch.Size([1])]}, f)
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        datasets.CIFAR10(tmp_path, train=False)


def test_cifar_missing_files_named(tmp_path):
    folder, _ = make_cifar(tmp_path)
    os.remove(os.path.join(folder, "data_batch_3"))
    with pytest.raises(RuntimeError, match="cifar-10-python.tar.gz.*data_batch_3"):
        datasets.CIFAR10(tmp_path)


def test_cifar_download_unpacks_and_verifies(tmp_path, monkeypatch):
    import tarfile

    folder, ref = make_cifar(tmp_path / "build")
    folder = pathlib.Path(folder)
    archive = tmp_path / "mirror" / "cifar-10-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, "cifar-10-batches-py")
    md5 = {n: hashlib.md5((folder / n).read_bytes()).hexdigest() for n in os.listdir(folder)}
    monkeypatch.setattr(datasets.CIFAR10, "url", archive.as_uri())
    monkeypatch.setattr(datasets.CIFAR10, "tgz_md5", hashlib.md5(archive.read_bytes()).hexdigest())
    monkeypatch.setattr(
        datasets.CIFAR10,
        "train_list",
        [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)],
    )
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(
        datasets.CIFAR10,
        "meta",
        {"filename": "batches.meta", "key": "label_names", "md5": md5["batches.meta"]},
    )
    ds = datasets.CIFAR10(tmp_path / "root", train=False, download=True)
    assert ds.targets == ref["test_batch"][1]
    # A batch that does not match its MD5 after unpacking is reported.
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", "0" * 32]])
    with pytest.raises(RuntimeError, match="test_batch does not have md5 0{32}"):
        datasets.CIFAR10(tmp_path / "root2", train=False, download=True)
    # Offline: the error names the archive, its checksum and where to put it.
    monkeypatch.setattr(datasets.CIFAR10, "url", (tmp_path / "gone.tar.gz").as_uri())
    with pytest.raises(RuntimeError) as e:
        datasets.CIFAR10(tmp_path / "root3", download=True)
    assert str(tmp_path / "root3" / "cifar-10-python.tar.gz") in str(e.value)
    assert "md5 " + hashlib.md5(archive.read_bytes()).hexdigest() in str(e.value)


# -- SVHN ----------------------------------------------------------------------------------


def test_svhn_mat_file(tmp_path):
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(1)
    X = rng.integers(0, 256, (32, 32, 3, 4), dtype=np.uint8)
    sio.savemat(tmp_path / "extra_32x32.mat", {"X": X, "y": np.array([[10], [1], [9], [10]])})
    ds = datasets.SVHN(tmp_path, split="extra")
    assert ds.labels.tolist() == [0, 1, 9, 0] and ds.data.shape == (4, 3, 32, 32)
    img, target = ds[2]
    assert img.mode == "RGB" and target == 9
    np.testing.assert_array_equal(np.asarray(img), X[:, :, :, 2])
    with pytest.raises(RuntimeError, match="place train_32x32.mat"):
        datasets.SVHN(tmp_path)
    with pytest.raises(ValueError, match="Unknown value 'dev' for argument split"):
        datasets.SVHN(tmp_path, split="dev")


# -- ImageFolder / DatasetFolder -----------------------------------------------------------


def _png(path, colour, size=(4, 3), mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_image_folder_layout(tmp_path):
    _png(tmp_path / "b_dog" / "2.png", (0, 0, 255))
    _png(tmp_path / "b_dog" / "deep" / "1.PNG", (0, 255, 0))
    _png(tmp_path / "a_cat" / "x.jpg", (255, 0, 0))
    _png(tmp_path / "a_cat" / "g.bmp", 128, mode="L")  # grey converts to RGB
    (tmp_path / "a_cat" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path, target_transform=lambda t: -t)
    assert ds.classes == ["a_cat", "b_dog"] and ds.class_to_idx == {"a_cat": 0, "b_dog": 1}
    names = [os.path.relpath(p, tmp_path) for p, _ in ds.samples]
    assert names == ["a_cat/g.bmp", "a_cat/x.jpg", "b_dog/2.png", "b_dog/deep/1.PNG"]
    assert ds.targets == [0, 0, 1, 1] and ds.imgs is ds.samples
    img, target = ds[0]
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (128, 128, 128) and target == 0
    assert ds[3][0].getpixel((1, 1)) == (0, 255, 0) and ds[3][1] == -1
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes a_cat"):
        datasets.ImageFolder(tmp_path, is_valid_file=lambda p: p.endswith(".png"))
    only_png = datasets.ImageFolder(
        tmp_path, is_valid_file=lambda p: p.endswith(".png"), allow_empty=True
    )
    assert [os.path.basename(p) for p, _ in only_png.samples] == ["2.png"]


def test_image_folder_empty_classes(tmp_path):
    _png(tmp_path / "a" / "x.png", (1, 2, 3))
    os.makedirs(tmp_path / "b")
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes b"):
        datasets.ImageFolder(tmp_path)
    ds = datasets.ImageFolder(tmp_path, allow_empty=True)
    assert ds.classes == ["a", "b"] and len(ds) == 1
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(tmp_path / "a")


def test_dataset_folder_custom_loader(tmp_path):
    os.makedirs(tmp_path / "neg")
    os.makedirs(tmp_path / "pos")
    np.save(tmp_path / "neg" / "a.npy", np.array([-1.0, -2.0]))
    np.save(tmp_path / "pos" / "b.npy", np.array([3.0]))
    ds = datasets.DatasetFolder(tmp_path, loader=np.load, extensions=".npy")
    assert [(x.tolist(), t) for x, t in ds] == [([-1.0, -2.0], 0), ([3.0], 1)]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(tmp_path, loader=np.load)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        datasets.DatasetFolder(tmp_path, np.load, ".npy", is_valid_file=lambda p: True)


# -- FakeData / VisionDataset --------------------------------------------------------------


def test_fakedata_is_reproducible_and_keeps_the_rng(tmp_path):
    ds = datasets.FakeData(size=5, image_size=(3, 6, 4), num_classes=3, random_offset=7)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    img, target = ds[4]
    after = torch.rand(3)
    np.testing.assert_array_equal(before.numpy(), after.numpy())  # global RNG untouched
    assert img.size == (4, 6) and img.mode == "RGB" and target in (0, 1, 2)
    # The pixels are randn(3, 6, 4) under seed index + random_offset, scaled by 255.
    torch.manual_seed(4 + 7)
    ref = torch.randn(3, 6, 4).mul(255).byte().numpy().transpose(1, 2, 0)
    np.testing.assert_array_equal(np.asarray(img), ref)
    assert datasets.FakeData(5, (3, 6, 4), 3, random_offset=7)[4][0].tobytes() == img.tobytes()
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[5]
    assert datasets.FakeData(2, (1, 5, 5))[1][0].mode == "L"


def test_vision_dataset_transforms_argument_rules():
    with pytest.raises(ValueError, match="Only transforms or transform/target_transform"):
        datasets.VisionDataset("r", transforms=lambda x, y: (x, y), transform=lambda x: x)
    st = datasets.StandardTransform(lambda x: x * 2, None)
    assert st(3, "t") == (6, "t")


# -- COCO ----------------------------------------------------------------------------------


def make_coco(tmp_path):
    _png(tmp_path / "imgs" / "b.png", (9, 9, 9), size=(10, 8))
    _png(tmp_path / "imgs" / "a.png", (1, 1, 1), size=(6, 5))
    ann = {
        "images": [
            {"id": 42, "file_name": "b.png", "width": 10, "height": 8},
            {"id": 3, "file_name": "a.png", "width": 6, "height": 5},
        ],
        "annotations": [
            {
                "id": 10,
                "image_id": 42,
                "category_id": 1,
                "bbox": [0, 0, 2, 2],
                "iscrowd": 0,
                "caption": "grey box",
            },
            {
                "id": 11,
                "image_id": 3,
                "category_id": 2,
                "bbox": [1, 1, 2, 2],
                "iscrowd": 0,
                "caption": "dark",
            },
            {
                "id": 9,
                "image_id": 42,
                "category_id": 2,
                "bbox": [5, 4, 3, 3],
                "iscrowd": 1,
                "caption": "second",
            },
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(ann))
    return path


def test_coco_detection(tmp_path):
    ann_file = make_coco(tmp_path)
    ds = datasets.CocoDetection(tmp_path / "imgs", str(ann_file))
    assert ds.ids == [3, 42] and len(ds) == 2
    img, target = ds[1]
    assert img.size == (10, 8) and img.getpixel((0, 0)) == (9, 9, 9)
    assert [t["id"] for t in target] == [10, 9]  # the file's order within an image
    assert ds.coco.loadCats(2)[0]["name"] == "dog" and ds.coco.getAnnIds(42, iscrowd=0) == [10]
    with pytest.raises(ValueError, match="Index must be of type integer"):
        ds[0.0]
    both = datasets.CocoDetection(
        tmp_path / "imgs", ann_file, transforms=lambda im, t: (im.size, len(t))
    )
    assert both[0] == ((6, 5), 1)
    caps = datasets.CocoCaptions(tmp_path / "imgs", ann_file)
    assert caps[1][1] == ["grey box", "second"]


# -- VOC -----------------------------------------------------------------------------------

VOC_XML = """<annotation>
  <folder>VOC2012</folder><filename>{id}.jpg</filename>
  <size><width>6</width><height>4</height><depth>3</depth></size>
  {objects}
</annotation>"""
VOC_OBJ = (
    "<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{x0}</xmin>"
    "<ymin>1</ymin><xmax>5</xmax><ymax>3</ymax></bndbox></object>"
)


def make_voc(root, year="2012"):
    voc = os.path.join(root, "VOCdevkit", f"VOC{year}")
    for sub in (
        "JPEGImages",
        "Annotations",
        "SegmentationClass",
        "ImageSets/Main",
        "ImageSets/Segmentation",
    ):
        os.makedirs(os.path.join(voc, sub), exist_ok=True)
    objs = {"im1": [("dog", 1), ("cat", 2)], "im2": [("car", 0)]}
    for i, (name, objects) in enumerate(objs.items()):
        Image.new("RGB", (6, 4), (i * 50, 0, 0)).save(
            os.path.join(voc, "JPEGImages", name + ".jpg")
        )
        xml = VOC_XML.format(
            id=name, objects="".join(VOC_OBJ.format(name=n, x0=x) for n, x in objects)
        )
        with open(os.path.join(voc, "Annotations", name + ".xml"), "w") as f:
            f.write(xml)
        mask = Image.fromarray(np.full((4, 6), i + 1, np.uint8), mode="P")
        mask.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9))
        mask.save(os.path.join(voc, "SegmentationClass", name + ".png"))
    for split_dir in ("Main", "Segmentation"):
        with open(os.path.join(voc, "ImageSets", split_dir, "val.txt"), "w") as f:
            f.write("im1\nim2\n")
    return voc


def test_voc_detection(tmp_path):
    make_voc(tmp_path)
    ds = datasets.VOCDetection(tmp_path, image_set="val")
    assert len(ds) == 2
    img, target = ds[0]
    assert img.mode == "RGB" and img.size == (6, 4)
    ann = target["annotation"]
    assert ann["filename"] == "im1.jpg" and ann["size"] == {
        "width": "6",
        "height": "4",
        "depth": "3",
    }
    assert [o["name"] for o in ann["object"]] == ["dog", "cat"]
    assert ann["object"][1]["bndbox"] == {"xmin": "2", "ymin": "1", "xmax": "5", "ymax": "3"}
    # A single object is still a list.
    assert [o["name"] for o in ds[1][1]["annotation"]["object"]] == ["car"]


def test_voc_segmentation_and_arguments(tmp_path):
    make_voc(tmp_path)
    ds = datasets.VOCSegmentation(tmp_path, image_set="val")
    img, mask = ds[1]
    assert mask.mode == "P" and np.asarray(mask).tolist() == [[2] * 6] * 4
    assert ds.masks[1].endswith(os.path.join("SegmentationClass", "im2.png"))
    with pytest.raises(ValueError, match="Unknown value 'test' for argument image_set"):
        datasets.VOCSegmentation(tmp_path, image_set="test")
    with pytest.raises(ValueError, match="Unknown value '2013' for argument year"):
        datasets.VOCDetection(tmp_path, year="2013")
    with pytest.raises(RuntimeError, match="unpack VOCtrainval_06-Nov-2007.tar .*VOC2007"):
        datasets.VOCDetection(tmp_path, year="2007")
    with pytest.raises(RuntimeError, match=r"split list .*Main.train\.txt is missing"):
        datasets.VOCDetection(tmp_path, image_set="train")


# -- ImageNet ------------------------------------------------------------------------------


def test_imagenet_from_devkit_and_val_archives(tmp_path):
    sio = pytest.importorskip("scipy.io")
    import tarfile

    # A devkit with two leaf classes (IDs 1, 2) and one inner node, as meta.mat stores them.
    fields = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children"]
    synsets = np.zeros((3,), dtype=[(f, object) for f in fields])
    synsets[0] = (1, "n01440764", "tench, Tinca tinca", "a fish", 0)
    synsets[1] = (2, "n01443537", "goldfish, Carassius auratus", "a fish", 0)
    synsets[2] = (1001, "n00000001", "fish", "inner node", 2)
    dev = tmp_path / "build" / "ILSVRC2012_devkit_t12" / "data"
    dev.mkdir(parents=True)
    sio.savemat(dev / "meta.mat", {"synsets": synsets})
    (dev / "ILSVRC2012_validation_ground_truth.txt").write_text("2\n1\n2\n")
    with tarfile.open(tmp_path / "ILSVRC2012_devkit_t12.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "build" / "ILSVRC2012_devkit_t12", "ILSVRC2012_devkit_t12")
    shades = {}
    with tarfile.open(tmp_path / "ILSVRC2012_img_val.tar", "w") as tar:
        for i in range(3):
            name = f"ILSVRC2012_val_{i + 1:08d}.JPEG"
            _png(tmp_path / "build" / "val" / name, (i * 100, 0, 0))
            tar.add(tmp_path / "build" / "val" / name, name)
            shades[name] = i * 100
    ds = datasets.ImageNet(tmp_path, split="val")
    assert ds.wnids == ["n01440764", "n01443537"]
    assert ds.classes == [("tench", "Tinca tinca"), ("goldfish", "Carassius auratus")]
    assert ds.class_to_idx["Carassius auratus"] == 1 and ds.wnid_to_idx["n01440764"] == 0
    # Ground truth 2, 1, 2: images 1 and 3 are goldfish, image 2 is a tench.
    got = [(os.path.basename(p), t) for p, t in ds.samples]
    assert got == [
        ("ILSVRC2012_val_00000002.JPEG", 0),
        ("ILSVRC2012_val_00000001.JPEG", 1),
        ("ILSVRC2012_val_00000003.JPEG", 1),
    ]
    assert abs(ds[0][0].getpixel((0, 0))[0] - 100) <= 3  # JPEG, nearly exact on flat colour
    assert repr(ds).splitlines()[-1] == "    Split: val"
    with pytest.raises(RuntimeError, match="ILSVRC2012_img_train.tar is not present.*place it in"):
        datasets.ImageNet(tmp_path, split="train")
    # The training tar holds one tar per class, unpacked into train/<wnid>/.
    with tarfile.open(tmp_path / "ILSVRC2012_img_train.tar", "w") as outer:
        for k, wnid in enumerate(("n01443537", "n01440764")):
            inner = tmp_path / "build" / f"{wnid}.tar"
            with tarfile.open(inner, "w") as tar:
                for j in range(k + 1):
                    name = f"{wnid}_{j}.JPEG"
                    _png(tmp_path / "build" / name, (0, 0, 0))
                    tar.add(tmp_path / "build" / name, name)
            outer.add(inner, inner.name)
    train = datasets.ImageNet(tmp_path, split="train")
    assert [(os.path.basename(p), t) for p, t in train.samples] == [
        ("n01440764_0.JPEG", 0),
        ("n01440764_1.JPEG", 0),
        ("n01443537_0.JPEG", 1),
    ]
    assert sorted(os.listdir(tmp_path / "train")) == ["n01440764", "n01443537"]
