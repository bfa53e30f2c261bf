from collections import OrderedDict

import pytest

import tocha.core as torch
import tocha.text.transforms as T
from tocha.text import functional as F
from tocha.text.data.utils import char_tokenizer, get_tokenizer, ngrams_iterator
from tocha.text.vocab import Vocab, build_vocab_from_iterator, vocab

# --------------------------------------------------------------------------- Vocab
DOCS = [["b", "a", "c", "b"], ["d", "b", "a", "<unk>"], ["c", "e"]]
# counts: b=3, a=2, c=2, d=1, e=1, <unk>=1 -> by count, ties alphabetical


def test_build_vocab_orders_by_frequency_then_alphabetically():
    v = build_vocab_from_iterator(DOCS)
    assert v.get_itos() == ["b", "a", "c", "<unk>", "d", "e"]
    assert v.get_stoi() == {"b": 0, "a": 1, "c": 2, "<unk>": 3, "d": 4, "e": 5}


def test_build_vocab_specials_min_freq_and_max_tokens():
    v = build_vocab_from_iterator(DOCS, min_freq=2, specials=["<unk>", "<pad>"])
    assert v.get_itos() == ["<unk>", "<pad>", "b", "a", "c"]
    v = build_vocab_from_iterator(DOCS, specials=["<pad>"], special_first=False)
    assert v.get_itos() == ["b", "a", "c", "<unk>", "d", "e", "<pad>"]
    # max_tokens counts the specials: 4 - 1 = 3 most frequent ordinary tokens
    v = build_vocab_from_iterator(DOCS, specials=["<pad>"], max_tokens=4)
    assert v.get_itos() == ["<pad>", "b", "a", "c"]
    with pytest.raises(ValueError, match="max_tokens"):
        build_vocab_from_iterator(DOCS, specials=["<a>", "<b>"], max_tokens=2)


def test_vocab_factory_keeps_dict_order_and_removes_specials():
    od = OrderedDict([("z", 5), ("<unk>", 9), ("a", 1), ("m", 3)])
    assert vocab(od).get_itos() == ["z", "<unk>", "a", "m"]
    assert vocab(od, min_freq=3, specials=["<unk>"]).get_itos() == ["<unk>", "z", "m"]
    assert vocab(od, specials=["<s>"], special_first=False).get_itos() == [
        "z",
        "<unk>",
        "a",
        "m",
        "<s>",
    ]


def test_vocab_lookups_and_default_index():
    v = vocab(OrderedDict([("<unk>", 1), ("hello", 1), ("world", 1)]))
    assert v["world"] == 2 and "hello" in v and "x" not in v and len(v) == 3
    with pytest.raises(RuntimeError, match="Token x not found and default index is not set"):
        v["x"]
    assert v.get_default_index() is None
    v.set_default_index(0)
    assert v["x"] == 0 and v.get_default_index() == 0
    assert v(["hello", "x", "world"]) == [1, 0, 2]
    assert v.lookup_indices(["world"]) == [2]
    assert v.lookup_tokens([2, 0]) == ["world", "<unk>"]
    assert v.lookup_token(1) == "hello"
    with pytest.raises(RuntimeError, match="out of bounds"):
        v.lookup_token(3)


def test_vocab_insert_and_append_token():
    v = Vocab(["a", "b", "c"])
    v.insert_token("x", 1)
    assert v.get_itos() == ["a", "x", "b", "c"] and v["c"] == 3
    v.append_token("y")
    assert v["y"] == 4
    with pytest.raises(RuntimeError, match="already exists"):
        v.append_token("a")
    with pytest.raises(RuntimeError, match="already exists"):
        v.insert_token("b", 0)
    with pytest.raises(RuntimeError, match="out of bounds"):
        v.insert_token("q", 9)
    # get_stoi / get_itos are copies
    v.get_itos().append("zzz")
    assert len(v) == 5


# --------------------------------------------------------------------------- tokenizers
def test_basic_english_tokenizer_rules():
    tok = get_tokenizer("basic_english")
    assert tok("You can now install TorchText using pip!") == [
        "you", "can", "now", "install", "torchtext", "using", "pip", "!",
    ]  # fmt: skip
    # quotes: ' is split off, " dropped; <br /> and ; : vanish; parentheses split
    assert tok('Don\'t say "no";<br />ok: (fine), yes?') == [
        "don", "'", "t", "say", "no", "ok", "(", "fine", ")", ",", "yes", "?",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="only available for English"):
        get_tokenizer("basic_english", language="de")
    with pytest.raises(ValueError, match="unknown tokenizer 'nope'"):
        get_tokenizer("nope")


def test_split_char_and_callable_tokenizers():
    assert get_tokenizer(None)(" a  b\tc ") == ["a", "b", "c"]
    assert get_tokenizer("char")("ab c") == ["a", "b", " ", "c"] == char_tokenizer("ab c")
    assert get_tokenizer(str.upper) is str.upper


def test_ngrams_iterator():
    assert list(ngrams_iterator(["a", "b", "c", "d"], 3)) == [
        "a", "b", "c", "d", "a b", "b c", "c d", "a b c", "b c d",
    ]  # fmt: skip
    assert list(ngrams_iterator(["a", "b"], 1)) == ["a", "b"]


# --------------------------------------------------------------------------- functional
def test_functional_to_tensor_truncate_add_token():
    assert F.to_tensor([1, 2, 3]).tolist() == [1, 2, 3]
    t = F.to_tensor([[1, 2, 3], [4], []], padding_value=9)
    assert t.dtype == torch.int64
    assert t.tolist() == [[1, 2, 3], [4, 9, 9], [9, 9, 9]]
    assert F.to_tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert F.to_tensor([[1.5, 2]], padding_value=0, dtype=torch.float32).dtype == torch.float32
    with pytest.raises(ValueError, match="padding_value"):
        F.to_tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="not supported"):
        F.to_tensor("abc")
    assert F.truncate([1, 2, 3], 2) == [1, 2]
    assert F.truncate([[1, 2, 3], [4]], 1) == [[1], [4]]
    assert F.add_token([1, 2], 0) == [0, 1, 2]
    assert F.add_token([[1], [2, 3]], 9, begin=False) == [[1, 9], [2, 3, 9]]
    assert F.add_token(["a"], "<s>") == ["<s>", "a"]


# --------------------------------------------------------------------------- transforms
def test_transforms_pipeline_like_torchtext():
    v = build_vocab_from_iterator([["hello", "world", "hello"]], specials=["<pad>", "<bos>"])
    # itos: <pad>, <bos>, hello, world
    pipe = T.Sequential(
        T.VocabTransform(v), T.Truncate(2), T.AddToken(v["<bos>"]), T.ToTensor(padding_value=0)
    )
    out = pipe([["hello", "world", "world"], ["world"]])
    assert out.tolist() == [[1, 2, 3], [1, 3, 0]]
    assert T.VocabTransform(v)(["world", "hello"]) == [3, 2]
    padded = T.PadTransform(max_length=5, pad_value=-1)(torch.tensor([1, 2, 3]))
    assert padded.tolist() == [1, 2, 3, -1, -1]
    assert T.PadTransform(max_length=2, pad_value=0)(torch.tensor([1, 2, 3])).tolist() == [1, 2, 3]
    assert T.StrToIntTransform()(["4", "5"]) == [4, 5]
    with pytest.raises(TypeError, match="Vocab"):
        T.VocabTransform({"a": 0})


def test_label_to_index(tmp_path):
    t = T.LabelToIndex(["pos", "neg", "neutral"], sort_names=True)
    assert t.label_names == ["neg", "neutral", "pos"]
    assert t("pos") == 2 and t(["neg", "neutral"]) == [0, 1]
    p = tmp_path / "labels.txt"
    p.write_text("World\nSports\n\nBusiness\n")
    assert T.LabelToIndex(label_path=p)("Business") == 2
    with pytest.raises(RuntimeError, match="not found"):
        t("other")
    with pytest.raises(ValueError, match="exactly one"):
        T.LabelToIndex()


def test_data_functional_helpers():
    from tocha.text.data.functional import (
        custom_replace,
        numericalize_tokens_from_iterator,
        simple_space_split,
        to_map_style_dataset,
    )

    ds = to_map_style_dataset(x * 2 for x in range(3))
    assert len(ds) == 3 and ds[2] == 4
    assert list(custom_replace([(r"<br />", " "), (r"\s+", " ")])(["a<br />b  c"])) == ["a b c"]
    assert list(simple_space_split([" x  y "])) == [["x", "y"]]
    v = Vocab(["<unk>", "x", "y"])
    v.set_default_index(0)
    ids = numericalize_tokens_from_iterator(v, [["y", "q", "x"]], removed_tokens=["x"])
    assert [list(i) for i in ids] == [[2, 0]]
