import numpy as np
import pytest

import tocha.core as torch
from tocha.rec.sparse.jagged_tensor import JaggedTensor, KeyedJaggedTensor, KeyedTensor


def _kjt(weighted=False):
    # keys f1, f2, f3; stride 3; key-major values
    lengths = torch.tensor([2, 0, 1, 1, 1, 3, 0, 2, 1], dtype=torch.int32)
    values = torch.arange(11)
    w = torch.arange(11, dtype=torch.float32) / 10 if weighted else None
    return KeyedJaggedTensor.from_lengths_sync(["f1", "f2", "f3"], values, lengths, w)


def test_lengths_offsets_and_per_key():
    kjt = _kjt()
    assert kjt.stride() == 3
    assert kjt.offsets().tolist() == [0, 2, 2, 3, 4, 5, 8, 8, 10, 11]
    assert kjt.length_per_key() == [3, 5, 3]
    assert kjt.offset_per_key() == [0, 3, 8, 11]
    kjt2 = KeyedJaggedTensor.from_offsets_sync(["f1", "f2", "f3"], kjt.values(), kjt.offsets())
    assert kjt2.lengths().tolist() == kjt.lengths().tolist()
    assert kjt2.length_per_key() == [3, 5, 3]


def test_getitem_to_dict_split_permute():
    kjt = _kjt(weighted=True)
    jt = kjt["f2"]
    assert jt.values().tolist() == [3, 4, 5, 6, 7]
    assert jt.lengths().tolist() == [1, 1, 3]
    np.testing.assert_allclose(jt.weights().numpy(), np.arange(3, 8) / 10, rtol=1e-6)
    assert [r.tolist() for r in jt.to_dense()] == [[3], [4], [5, 6, 7]]
    d = kjt.to_dict()
    assert list(d) == ["f1", "f2", "f3"]
    assert d["f3"].values().tolist() == [8, 9, 10]
    a, b = kjt.split([1, 2])
    assert a.keys() == ["f1"] and b.keys() == ["f2", "f3"]
    assert b.values().tolist() == list(range(3, 11))
    assert b.lengths().tolist() == [1, 1, 3, 0, 2, 1]
    p = kjt.permute([2, 0])
    assert p.keys() == ["f3", "f1"]
    assert p.values().tolist() == [8, 9, 10, 0, 1, 2]
    assert p.lengths().tolist() == [0, 2, 1, 2, 0, 1]
    np.testing.assert_allclose(p.weights().numpy(), np.array([8, 9, 10, 0, 1, 2]) / 10, rtol=1e-6)
    with pytest.raises(KeyError, match="nope"):
        kjt["nope"]
    with pytest.raises(ValueError, match="segments"):
        kjt.split([1, 1])


def test_from_jt_dict_and_concat_roundtrip():
    kjt = _kjt()
    back = KeyedJaggedTensor.from_jt_dict(kjt.to_dict())
    assert back.values().tolist() == kjt.values().tolist()
    assert back.lengths().tolist() == kjt.lengths().tolist()
    cat = KeyedJaggedTensor.concat(kjt.split([2, 1]))
    assert cat.keys() == kjt.keys() and cat.values().tolist() == kjt.values().tolist()


def test_bad_lengths_rejected():
    with pytest.raises(ValueError, match="stride"):
        KeyedJaggedTensor(["a", "b"], torch.arange(3), lengths=torch.tensor([1, 1, 1]), stride=2)


def test_jagged_padded_dense():
    jt = JaggedTensor(torch.tensor([1.0, 2.0, 3.0, 4.0]), offsets=torch.tensor([0, 3, 3, 4]))
    assert jt.lengths().tolist() == [3, 0, 1]
    assert jt.to_padded_dense(2, -1.0).tolist() == [[1.0, 2.0], [-1.0, -1.0], [4.0, -1.0]]
    dl = JaggedTensor.from_dense_lengths(torch.tensor([[1, 2], [3, 4]]), torch.tensor([1, 2]))
    assert dl.values().tolist() == [1, 3, 4]


def test_keyed_tensor_regroup_and_grad():
    a = torch.randn(4, 2, requires_grad=True)
    b = torch.randn(4, 3)
    kt1 = KeyedTensor.from_tensor_list(["a", "b"], [a, b])
    kt2 = KeyedTensor(["c"], [1], torch.ones(4, 1))
    assert kt1.offset_per_key() == [0, 2, 5]
    g1, g2 = KeyedTensor.regroup([kt1, kt2], [["c", "a"], ["b"]])
    np.testing.assert_allclose(g1.detach().numpy()[:, 1:], a.detach().numpy())
    np.testing.assert_allclose(g2.detach().numpy(), b.numpy())
    g1.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.ones((4, 2)))
    assert set(kt1.to_dict()) == {"a", "b"}
