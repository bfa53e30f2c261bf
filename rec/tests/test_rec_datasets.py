import numpy as np
import pytest

from tocha.rec.datasets.criteo import DEFAULT_CAT_NAMES, CriteoIterDataPipe
from tocha.rec.datasets.movielens import (
    leave_one_out_split,
    random_split,
    read_ml100k_udata,
    read_ml_latest_ratings,
    read_recbole_inter,
    recbole_ml100k_path,
    temporal_split,
)
from tocha.rec.datasets.synthetic import SyntheticCriteo
from tocha.rec.metrics import auc
from tocha.rec.modules.hashing import IdHasher, hash_ids, splitmix64


def _write_criteo(path, n, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        f = [str(rng.integers(0, 2))]
        f += ["" if rng.random() < 0.2 else str(rng.integers(-2, 500)) for _ in range(13)]
        f += ["" if rng.random() < 0.2 else f"{rng.integers(0, 2**32):08x}" for _ in range(26)]
        rows.append(f)
    path.write_text("".join("\t".join(r) + "\n" for r in rows))
    return rows


def test_criteo_reader_streams_chunks_and_matches_per_line_parse(tmp_path):
    rows = _write_criteo(tmp_path / "a.tsv", 7, 0) + _write_criteo(tmp_path / "b.tsv", 4, 1)
    pipe = CriteoIterDataPipe(
        [tmp_path / "a.tsv", tmp_path / "b.tsv"], batch_size=3, hash_size=1000
    )
    batches = list(pipe)
    assert [b.labels.shape[0] for b in batches] == [3, 3, 1, 3, 1]
    start = 0
    for b in batches:
        chunk = rows[start : start + b.labels.shape[0]]
        start += len(chunk)
        np.testing.assert_array_equal(b.labels.numpy(), [float(r[0]) for r in chunk])
        dense = [[np.log1p(max(int(x or 0), 0)) for x in r[1:14]] for r in chunk]
        np.testing.assert_allclose(b.dense_features.numpy(), dense, rtol=1e-6)
        kjt = b.sparse_features
        assert kjt.keys() == DEFAULT_CAT_NAMES
        for k in (0, 7, 25):
            jt = kjt[f"cat_{k}"]
            ref = [int(r[14 + k], 16) % 1000 for r in chunk if r[14 + k]]
            assert jt.values().tolist() == ref
            assert jt.lengths().tolist() == [1 if r[14 + k] else 0 for r in chunk]


def test_criteo_bad_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.tsv"
    _write_criteo(p, 2, 0)
    p.write_text(p.read_text() + "1\t2\t3\n")
    with pytest.raises(ValueError, match=r"bad.tsv line 3 has 3 fields, expected 40"):
        list(CriteoIterDataPipe([p], batch_size=10))


def test_hashing():
    ids = np.array([0, 1, 2, 2**40, -5])
    np.testing.assert_array_equal(hash_ids(ids, 7, "modulo"), np.mod(ids, 7))
    # splitmix64 reference value of 0 (first output of the generator seeded with 0)
    assert int(splitmix64(np.array([0]))[0]) == 0xE220A8397B1DCDAF
    h = hash_ids(np.arange(100000), 100)
    counts = np.bincount(h, minlength=100)
    assert counts.min() > 850 and counts.max() < 1150  # sequential ids spread evenly
    with pytest.raises(ValueError, match="unknown method"):
        hash_ids(ids, 7, "md5")
    import tocha.core as torch
    from tocha.rec.sparse.jagged_tensor import KeyedJaggedTensor

    kjt = KeyedJaggedTensor.from_lengths_sync(
        ["a", "b"], torch.tensor([10, 11, 12]), torch.tensor([2, 1])
    )
    out = IdHasher({"a": 3, "b": 5}, method="modulo")(kjt)
    assert out.values().tolist() == [1, 2, 2]


def test_synthetic_criteo_has_planted_signal():
    gen = SyntheticCriteo(num_embeddings=200, num_sparse=5, num_dense=4, seed=1)
    a = gen.arrays(4000)
    assert a["lengths"].shape == (5 * 4000,) and a["lengths"].min() >= 1
    assert auc(a["p"], a["labels"]) > 0.8
    assert 0.1 < a["labels"].mean() < 0.6


def test_movielens_100k_from_recbole_and_splits():
    d = read_recbole_inter(recbole_ml100k_path())
    assert d["rating"].shape == (100000,)
    assert d["user"].max() == 942 and d["item"].max() == 1681
    assert d["rating"].min() == 1 and d["rating"].max() == 5
    assert float(d["rating"].mean()) == pytest.approx(3.52986, abs=1e-4)
    tr, te = random_split(100000, 0.2, seed=0)
    assert len(te) == 20000 and len(np.intersect1d(tr, te)) == 0
    tr, te = leave_one_out_split(d["user"], d["timestamp"])
    assert len(te) == 943
    last = {}
    for k in np.argsort(d["timestamp"], kind="stable"):
        last[d["user"][k]] = d["timestamp"][k]
    assert all(d["timestamp"][k] == last[d["user"][k]] for k in te)
    tr, te = temporal_split(d["timestamp"], 0.1)
    assert d["timestamp"][tr].max() <= d["timestamp"][te].min()


def test_movielens_text_formats(tmp_path):
    (tmp_path / "u.data").write_text(
        "196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t302\t5\t1\n"
    )
    d = read_ml100k_udata(str(tmp_path / "u.data"))
    assert d["user"].tolist() == [1, 0, 1] and d["user_ids"].tolist() == [186, 196]
    assert d["item"].tolist() == [0, 1, 1] and d["rating"].tolist() == [3, 3, 5]
    (tmp_path / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n2,10,4.0,835355493\n"
    )
    d = read_ml_latest_ratings(str(tmp_path / "ratings.csv"))
    assert d["rating"].tolist() == [2.5, 4.0] and d["item_ids"].tolist() == [10, 31]
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="bad.csv header"):
        read_ml_latest_ratings(str(tmp_path / "bad.csv"))


def test_random_rec_dataset():
    from tocha.rec.datasets.random import RandomRecDataset

    ds = RandomRecDataset(
        ["a", "b"],
        batch_size=50,
        hash_sizes=[7, 1000],
        ids_per_feature=3,
        min_ids_per_feature=1,
        num_dense=5,
        manual_seed=3,
        num_generated_batches=2,
        num_batches=3,
    )
    b0, b1, b2 = list(ds)
    assert b2 is b0 and b1 is not b0
    kjt = b0.sparse_features
    ln = kjt.lengths().numpy()
    assert ln.min() == 1 and ln.max() == 3
    assert kjt["a"].values().numpy().max() < 7 and kjt["b"].values().numpy().max() >= 7
    assert b0.dense_features.shape == (50, 5)
    assert set(np.unique(b0.labels.numpy())) == {0.0, 1.0}
    again = next(
        iter(
            RandomRecDataset(
                ["a", "b"],
                50,
                hash_sizes=[7, 1000],
                ids_per_feature=3,
                min_ids_per_feature=1,
                num_dense=5,
                manual_seed=3,
            )
        )
    )
    assert again.sparse_features.values().tolist() == kjt.values().tolist()
