"""Fast subword tokenizers: a Hugging Face ``transformers``-style front end on ``tokenizers``.

:class:`Tokenizer` wraps a Rust ``tokenizers.Tokenizer`` (load a ``tokenizer.json``, a model
directory, or train BPE / byte-level BPE / WordPiece / Unigram from files or an iterator) and
encodes batches the way ``transformers`` does: ``tok(texts, padding=True, truncation=True,
max_length=..., return_tensors="pt")`` gives a :class:`BatchEncoding` with tocha tensors
``input_ids``, ``token_type_ids`` and ``attention_mask``.

Padding and truncation are decided per call, never by the file: a ``tokenizer.json`` that was
saved with fixed padding (the all-MiniLM-L6-v2 one pads everything to 128) is loaded with that
setting switched off.

Example:
    >>> from tocha.text.tokenizers import Tokenizer
    >>> corpus = ["the cat sat on the mat", "the dog sat on the log"] * 20
    >>> tok = Tokenizer.train(iterator=corpus, kind="wordpiece", vocab_size=60)
    >>> enc = tok(["the cat sat", "a dog"], padding=True, return_tensors="pt")
    >>> enc["input_ids"].shape, enc["attention_mask"].tolist()
    (torch.Size([2, 5]), [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    >>> tok.decode(enc["input_ids"][0], skip_special_tokens=True)
    'the cat sat'
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tokenizers as _hf
from tokenizers import decoders, models, normalizers, pre_tokenizers, processors, trainers

import tocha.core as torch

__all__ = [
    "BatchEncoding",
    "Tokenizer",
    "train_bpe",
    "train_byte_level_bpe",
    "train_unigram",
    "train_wordpiece",
]

_SPECIAL_NAMES = ("pad", "unk", "cls", "sep", "mask", "bos", "eos")

# how to recognise the roles of added tokens in a bare tokenizer.json (no tokenizer_config.json)
_KNOWN_SPECIALS = {
    "pad": ("[PAD]", "<pad>"),
    "unk": ("[UNK]", "<unk>"),
    "cls": ("[CLS]", "<s>"),
    "sep": ("[SEP]", "</s>"),
    "mask": ("[MASK]", "<mask>"),
    "bos": ("<s>", "<|endoftext|>"),
    "eos": ("</s>", "<|endoftext|>"),
}

_TRUNCATION = {
    True: "longest_first",
    "longest_first": "longest_first",
    "only_first": "only_first",
    "only_second": "only_second",
}


def _to_list(ids: Any) -> list[int]:
    """Token ids from a list, a NumPy array or a tocha tensor, as a flat list of ints."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, np.ndarray):
        return ids.astype(np.int64).ravel().tolist()
    if isinstance(ids, int | np.integer):
        return [int(ids)]
    return [int(i) for i in ids]


class BatchEncoding(dict):
    """The output of :class:`Tokenizer`: a dict of ``input_ids``, ``attention_mask``, ...

    Keys read as attributes too (``enc.input_ids``); ``enc[i]`` with an int gives the
    underlying ``tokenizers.Encoding`` of row ``i``; :meth:`tokens`, :meth:`word_ids`,
    :meth:`sequence_ids` and :meth:`char_to_token` expose alignment information.

    Example:
        >>> from tocha.text.tokenizers import BatchEncoding
        >>> enc = BatchEncoding({"input_ids": [[5, 6]]})
        >>> enc.input_ids
        [[5, 6]]
    """

    def __init__(self, data: dict | None = None, encodings: list | None = None) -> None:
        super().__init__(data or {})
        self._encodings = encodings

    def __getattr__(self, name: str):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"BatchEncoding has no key or attribute '{name}'") from None

    def __getitem__(self, key):
        if isinstance(key, int):
            if self._encodings is None:
                raise KeyError(
                    f"BatchEncoding: integer index {key} needs the encodings of a fast tokenizer"
                )
            return self._encodings[key]
        return super().__getitem__(key)

    def __getstate__(self):
        return {"data": dict(self), "encodings": None}

    def __setstate__(self, state):
        self.update(state["data"])
        self._encodings = state["encodings"]

    @property
    def encodings(self) -> list | None:
        """The ``tokenizers.Encoding`` of each row (None when built by hand)."""
        return self._encodings

    def _encoding(self, batch_index: int):
        if self._encodings is None:
            raise ValueError("BatchEncoding: no alignment information (built without encodings)")
        if not 0 <= batch_index < len(self._encodings):
            raise IndexError(
                f"BatchEncoding: batch_index {batch_index} out of range for "
                f"{len(self._encodings)} rows"
            )
        return self._encodings[batch_index]

    def tokens(self, batch_index: int = 0) -> list[str]:
        """The token strings of row ``batch_index`` (specials and padding included)."""
        return self._encoding(batch_index).tokens

    def word_ids(self, batch_index: int = 0) -> list[int | None]:
        """The word each token comes from (None for special and padding tokens)."""
        return self._encoding(batch_index).word_ids

    def sequence_ids(self, batch_index: int = 0) -> list[int | None]:
        """0 or 1 per token: which text of a pair it comes from (None for specials, padding)."""
        return self._encoding(batch_index).sequence_ids

    def char_to_token(
        self, batch_index: int, char_index: int, sequence_index: int = 0
    ) -> int | None:
        """The token covering character ``char_index`` of text ``sequence_index`` (or None)."""
        return self._encoding(batch_index).char_to_token(char_index, sequence_index)

    def to(self, device) -> BatchEncoding:
        """Move every tensor value to ``device`` (in place, like ``transformers``); returns self."""
        for k, v in self.items():
            if isinstance(v, torch.Tensor):
                self[k] = v.to(device)
        return self


def _infer_specials(backend: _hf.Tokenizer) -> dict[str, str | None]:
    added = {t.content for t in backend.get_added_tokens_decoder().values() if t.special}
    found: dict[str, str | None] = {}
    for role, names in _KNOWN_SPECIALS.items():
        found[role] = next((n for n in names if n in added), None)
    return found


class Tokenizer:
    """A fast tokenizer with the ``transformers`` call style, on Hugging Face ``tokenizers``.

    Args:
        backend: the ``tokenizers.Tokenizer`` to wrap (its own padding and truncation
            settings are switched off; every call decides them).
        model_max_length: the length ``truncation=True`` / ``padding="max_length"`` use when
            no ``max_length`` is given (``tokenizer_config.json``'s ``model_max_length``).
        padding_side: ``"right"`` or ``"left"``.
        model_input_names: the keys a call returns by default.
        **special_tokens: ``pad_token``, ``unk_token``, ``cls_token``, ``sep_token``,
            ``mask_token``, ``bos_token``, ``eos_token``; those not given are recognised from
            the tokenizer's special tokens (``[PAD]``/``<pad>``, ``[CLS]``, ...).

    Example:
        >>> from tocha.text.tokenizers import Tokenizer
        >>> tok = Tokenizer.train(iterator=["low lower lowest"] * 10, kind="bpe", vocab_size=40)
        >>> tok.decode(tok.encode("lower low"), skip_special_tokens=True)
        'lower low'
    """

    def __init__(
        self,
        backend: _hf.Tokenizer,
        *,
        model_max_length: int | None = None,
        padding_side: str = "right",
        model_input_names: Sequence[str] = ("input_ids", "token_type_ids", "attention_mask"),
        **special_tokens: str | None,
    ) -> None:
        if not isinstance(backend, _hf.Tokenizer):
            raise TypeError(
                f"Tokenizer: backend must be a tokenizers.Tokenizer, got {type(backend).__name__}"
            )
        if padding_side not in ("right", "left"):
            raise ValueError(
                f"Tokenizer: padding_side must be 'right' or 'left', got {padding_side!r}"
            )
        self._backend = backend
        # the file's own padding/truncation is recorded, then turned off: every call decides
        self.file_padding = backend.padding
        self.file_truncation = backend.truncation
        backend.no_padding()
        backend.no_truncation()
        self._lock = threading.Lock()
        self.model_max_length = model_max_length
        self.padding_side = padding_side
        self.model_input_names = list(model_input_names)
        inferred = _infer_specials(backend)
        for role in _SPECIAL_NAMES:
            key = f"{role}_token"
            value = special_tokens.pop(key, inferred[role])
            setattr(self, key, value)
        if special_tokens:
            raise TypeError(f"Tokenizer: unexpected arguments {sorted(special_tokens)}")

    def __getstate__(self) -> dict:
        # the lock cannot be pickled (DataLoader workers started with spawn pickle collate_fn)
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading / saving
    @classmethod
    def from_file(cls, path: str | os.PathLike, **kwargs: Any) -> Tokenizer:
        """Load a ``tokenizer.json`` file.

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a valid ``tokenizer.json``.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"Tokenizer.from_file: no file {path}")
        try:
            backend = _hf.Tokenizer.from_file(path)
        except Exception as e:  # the Rust side raises a bare Exception
            raise ValueError(
                f"Tokenizer.from_file: {path} is not a valid tokenizer.json: {e}"
            ) from None
        return cls(backend, **kwargs)

    @classmethod
    def from_str(cls, json_str: str, **kwargs: Any) -> Tokenizer:
        """Build from the JSON text of a ``tokenizer.json``."""
        try:
            backend = _hf.Tokenizer.from_str(json_str)
        except Exception as e:
            raise ValueError(f"Tokenizer.from_str: not a valid tokenizer.json: {e}") from None
        return cls(backend, **kwargs)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **kwargs: Any) -> Tokenizer:
        """Load a Hugging Face model directory: ``tokenizer.json`` (or a BERT ``vocab.txt``),
        with ``tokenizer_config.json`` / ``special_tokens_map.json`` when present.

        Nothing is fetched from a hub: ``directory`` must be a local folder.

        Example:
            >>> import tempfile
            >>> from tocha.text.tokenizers import Tokenizer
            >>> tok = Tokenizer.train(iterator=["a b c"] * 5, kind="wordpiece", vocab_size=30)
            >>> d = tempfile.mkdtemp()
            >>> tok.save_pretrained(d)
            >>> Tokenizer.from_pretrained(d).get_vocab() == tok.get_vocab()
            True
        """
        directory = os.fspath(directory)
        if not os.path.isdir(directory):
            raise FileNotFoundError(
                f"Tokenizer.from_pretrained: {directory} is not a directory (only local model "
                "folders are supported; place tokenizer.json or vocab.txt there)"
            )
        config: dict[str, Any] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            p = os.path.join(directory, name)
            if os.path.isfile(p):
                try:
                    with open(p, encoding="utf-8") as fh:
                        config.update(json.load(fh))
                except (json.JSONDecodeError, UnicodeDecodeError) as e:
                    raise ValueError(
                        f"Tokenizer.from_pretrained: {p} is not valid JSON: {e}"
                    ) from None
        opts: dict[str, Any] = {}
        mml = config.get("model_max_length")
        # transformers writes a huge sentinel (1e30) for "no limit"
        if isinstance(mml, int | float) and mml < 1e9:
            opts["model_max_length"] = int(mml)
        if config.get("padding_side") in ("left", "right"):
            opts["padding_side"] = config["padding_side"]
        if isinstance(config.get("model_input_names"), list):
            opts["model_input_names"] = config["model_input_names"]
        for role in _SPECIAL_NAMES:
            v = config.get(f"{role}_token")
            if isinstance(v, dict):  # AddedToken serialised as a dict
                v = v.get("content")
            if isinstance(v, str):
                opts[f"{role}_token"] = v
        opts.update(kwargs)
        tj = os.path.join(directory, "tokenizer.json")
        if os.path.isfile(tj):
            return cls.from_file(tj, **opts)
        vocab = os.path.join(directory, "vocab.txt")
        if os.path.isfile(vocab):
            lower = bool(config.get("do_lower_case", True))
            return cls(_bert_wordpiece_from_vocab(vocab, lower), **opts)
        raise FileNotFoundError(
            f"Tokenizer.from_pretrained: {directory} has neither tokenizer.json nor vocab.txt"
        )

    def save(self, path: str | os.PathLike, pretty: bool = True) -> None:
        """Write ``tokenizer.json`` to ``path`` atomically (without padding/truncation)."""
        path = os.fspath(path)
        text = self._backend.to_str(pretty=pretty)
        tmp = f"{path}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """Write ``tokenizer.json`` and ``tokenizer_config.json`` into ``directory``."""
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        self.save(os.path.join(directory, "tokenizer.json"))
        config: dict[str, Any] = {
            f"{r}_token": getattr(self, f"{r}_token")
            for r in _SPECIAL_NAMES
            if getattr(self, f"{r}_token") is not None
        }
        config["padding_side"] = self.padding_side
        config["model_input_names"] = self.model_input_names
        if self.model_max_length is not None:
            config["model_max_length"] = self.model_max_length
        with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as fh:
            json.dump(config, fh, indent=2)

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls,
        files: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        iterator: Iterable[str] | None = None,
        *,
        kind: str = "bpe",
        vocab_size: int = 30000,
        min_frequency: int = 2,
        special_tokens: Sequence[str] | None = None,
        lowercase: bool | None = None,
        show_progress: bool = False,
        **kwargs: Any,
    ) -> Tokenizer:
        """Train a new tokenizer on text files or an iterator of strings.

        ``kind`` picks a complete pipeline (normaliser, pre-tokeniser, model, decoder and
        special-token template):

        * ``"bpe"``: whitespace/punctuation split, BPE with an end-of-word suffix ``</w>``;
          specials ``<pad> <unk> <s> </s>``, template ``<s> A </s>``.
        * ``"byte_bpe"``: GPT-2's byte-level BPE (every string is encodable, decoding is
          exact); special ``<|endoftext|>``, no template, no pad token (set ``pad_token``).
        * ``"wordpiece"``: BERT's normaliser and pre-tokeniser, WordPiece with ``##``;
          specials ``[PAD] [UNK] [CLS] [SEP] [MASK]``, template ``[CLS] A [SEP] B [SEP]``.
        * ``"unigram"``: SentencePiece-style Unigram with ``▁`` word boundaries; specials
          ``<pad> <unk> <s> </s>``, template ``<s> A </s>``.

        Args:
            files: a path or paths of UTF-8 text files (one training text per line).
            iterator: strings to train on instead of files.
            kind: ``"bpe"``, ``"byte_bpe"``, ``"wordpiece"`` or ``"unigram"``.
            vocab_size: target vocabulary size (specials included).
            min_frequency: a merge must occur this often (BPE, WordPiece).
            special_tokens: replaces the kind's default specials (first ones get ids 0, 1,
                ...); the template uses the kind's defaults only when they are present.
            lowercase: lower-case the text first (default: True for ``"wordpiece"`` only).
            show_progress: show the trainer's progress bar.
            **kwargs: passed to the ``Tokenizer`` constructor (``model_max_length``, ...).

        The Rust trainers break ties between equally frequent merges in hash-map order, so
        which tied pieces are learned, and the ids of learned pieces, can differ from one
        process to the next; save the trained tokenizer to reuse exactly the same one.

        Raises:
            ValueError: unknown ``kind``, or neither / both of ``files`` and ``iterator``.

        Example:
            >>> from tocha.text.tokenizers import Tokenizer
            >>> tok = Tokenizer.train(iterator=["hello world"] * 10, kind="byte_bpe",
            ...                       vocab_size=270)
            >>> tok.decode(tok.encode("hello, wörld!"))
            'hello, wörld!'
        """
        if (files is None) == (iterator is None):
            raise ValueError("Tokenizer.train: pass exactly one of files= or iterator=")
        if kind not in _KINDS:
            raise ValueError(
                f"Tokenizer.train: unknown kind {kind!r}; choose from {sorted(_KINDS)}"
            )
        spec = _KINDS[kind]
        specials = list(spec["specials"] if special_tokens is None else special_tokens)
        if lowercase is None:
            lowercase = kind == "wordpiece"
        backend, trainer = spec["build"](
            vocab_size, min_frequency, specials, lowercase, show_progress
        )
        if files is not None:
            paths = [os.fspath(files)] if isinstance(files, str | os.PathLike) else list(files)
            paths = [os.fspath(p) for p in paths]
            for p in paths:
                if not os.path.isfile(p):
                    raise FileNotFoundError(f"Tokenizer.train: no file {p}")
            backend.train(paths, trainer=trainer)
        else:
            if isinstance(iterator, str):
                raise TypeError("Tokenizer.train: iterator must yield strings, got one str")
            backend.train_from_iterator(iterator, trainer=trainer)
        template = spec["template"]
        if template is not None and all(backend.token_to_id(t) is not None for t in template):
            first, last = template
            backend.post_processor = processors.TemplateProcessing(
                single=f"{first} $A {last}",
                pair=f"{first} $A {last} $B:1 {last}:1",
                special_tokens=[(t, backend.token_to_id(t)) for t in dict.fromkeys(template)],
            )
        if kind == "byte_bpe":
            kwargs.setdefault("model_input_names", ("input_ids", "attention_mask"))
        return cls(backend, **kwargs)

    # ------------------------------------------------------------------ vocabulary
    @property
    def backend_tokenizer(self) -> _hf.Tokenizer:
        """The wrapped ``tokenizers.Tokenizer``."""
        return self._backend

    @property
    def vocab_size(self) -> int:
        """Size of the vocabulary, added tokens included."""
        return self._backend.get_vocab_size(with_added_tokens=True)

    def __len__(self) -> int:
        return self.vocab_size

    def get_vocab(self) -> dict[str, int]:
        """Token -> id for the whole vocabulary."""
        return self._backend.get_vocab(with_added_tokens=True)

    def token_to_id(self, token: str) -> int | None:
        """The id of ``token`` (None if it is not in the vocabulary)."""
        return self._backend.token_to_id(token)

    def id_to_token(self, index: int) -> str | None:
        """The token of id ``index`` (None if out of range)."""
        return self._backend.id_to_token(int(index))

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int] | None:
        """Ids of tokens (unknown tokens give the unk id, as ``transformers``)."""
        if isinstance(tokens, str):
            i = self._backend.token_to_id(tokens)
            return self.unk_token_id if i is None else i
        return [self.convert_tokens_to_ids(t) for t in tokens]

    def convert_ids_to_tokens(self, ids: Any) -> str | list[str]:
        """Tokens of ids (an int gives one token)."""
        if isinstance(ids, int | np.integer):
            return self._backend.id_to_token(int(ids))
        return [self._backend.id_to_token(i) for i in _to_list(ids)]

    def add_special_tokens(self, tokens: Sequence[str]) -> int:
        """Add special tokens (never split, skipped by decoding); returns how many were new."""
        return self._backend.add_special_tokens(list(tokens))

    def add_tokens(self, tokens: Sequence[str]) -> int:
        """Add ordinary tokens to the vocabulary; returns how many were new."""
        return self._backend.add_tokens(list(tokens))

    @property
    def all_special_tokens(self) -> list[str]:
        """Every special token of the tokenizer."""
        return [t.content for t in self._backend.get_added_tokens_decoder().values() if t.special]

    @property
    def all_special_ids(self) -> list[int]:
        """Ids of :attr:`all_special_tokens`."""
        return [i for i, t in self._backend.get_added_tokens_decoder().items() if t.special]

    def __getattr__(self, name: str):
        # pad_token_id, cls_token_id, ... follow the token attributes
        if name.endswith("_token_id") and name[: -len("_token_id")] in _SPECIAL_NAMES:
            token = getattr(self, name[: -len("_id")])
            return None if token is None else self._backend.token_to_id(token)
        raise AttributeError(f"'Tokenizer' object has no attribute '{name}'")

    def __repr__(self) -> str:
        model = type(self._backend.model).__name__
        return (
            f"Tokenizer(model={model}, vocab_size={self.vocab_size}, "
            f"model_max_length={self.model_max_length}, padding_side={self.padding_side!r})"
        )

    # ------------------------------------------------------------------ encoding
    def tokenize(self, text: str, text_pair: str | None = None, add_special_tokens: bool = False):
        """The token strings of ``text`` (without specials by default, as ``transformers``)."""
        return self._backend.encode(text, text_pair, add_special_tokens=add_special_tokens).tokens

    def encode(
        self,
        text: str,
        text_pair: str | None = None,
        add_special_tokens: bool = True,
        truncation: bool | str | None = None,
        max_length: int | None = None,
    ) -> list[int]:
        """Token ids of one text (or pair) as a list, specials included by default."""
        enc = self(
            text,
            text_pair,
            add_special_tokens=add_special_tokens,
            truncation=truncation,
            max_length=max_length,
        )
        return enc["input_ids"]

    def __call__(
        self,
        text: str | Sequence[str] | Sequence[Sequence[str]],
        text_pair: str | Sequence[str] | None = None,
        *,
        add_special_tokens: bool = True,
        padding: bool | str = False,
        truncation: bool | str | None = None,
        max_length: int | None = None,
        stride: int = 0,
        is_split_into_words: bool = False,
        pad_to_multiple_of: int | None = None,
        padding_side: str | None = None,
        return_tensors: str | None = None,
        return_token_type_ids: bool | None = None,
        return_attention_mask: bool | None = None,
        return_overflowing_tokens: bool = False,
        return_special_tokens_mask: bool = False,
        return_offsets_mapping: bool = False,
        return_length: bool = False,
    ) -> BatchEncoding:
        """Encode one text or a batch (optionally paired) the way ``transformers`` does.

        Args:
            text: a string, a list of strings, or (``is_split_into_words``) lists of words.
            text_pair: the second text(s) of pairs; alternatively ``text`` may be a list of
                ``(first, second)`` tuples.
            add_special_tokens: apply the template (``[CLS] A [SEP]``, ...).
            padding: ``False``/``"do_not_pad"``, ``True``/``"longest"`` (to the longest in
                the batch) or ``"max_length"`` (to ``max_length``, else ``model_max_length``).
            truncation: ``True``/``"longest_first"``, ``"only_first"``, ``"only_second"`` or
                ``False``. ``None`` truncates only when ``max_length`` is given and padding is
                not ``"max_length"`` (``transformers``' rule).
            max_length: the length for truncation / ``"max_length"`` padding.
            stride: tokens shared by consecutive windows with ``return_overflowing_tokens``.
            is_split_into_words: ``text`` is pre-split into words.
            pad_to_multiple_of: round the padded length up to a multiple of this.
            padding_side: overrides :attr:`padding_side` for this call.
            return_tensors: ``"pt"`` (tocha tensors), ``"np"`` (NumPy) or None (lists).
            return_token_type_ids: default: whether ``token_type_ids`` is a model input name.
            return_attention_mask: default: whether ``attention_mask`` is a model input name.
            return_overflowing_tokens: the truncated rest of each row becomes further rows
                (windows overlapping by ``stride``); ``overflow_to_sample_mapping`` says which
                input each row came from.
            return_special_tokens_mask: 1 marks special tokens.
            return_offsets_mapping: ``(start, end)`` character span of each token in its own
                text (``(0, 0)`` for specials and padding).
            return_length: the unpadded length of each row.

        Returns:
            A :class:`BatchEncoding`. For one string (not a batch) without ``return_tensors``
            each value is a flat list, otherwise one row per text.

        Raises:
            ValueError: unequal lengths with ``return_tensors`` and no padding, padding without
                a pad token, bad argument values.

        Example:
            >>> from tocha.text.tokenizers import Tokenizer
            >>> tok = Tokenizer.train(iterator=["a b c d e"] * 5, kind="wordpiece",
            ...                       vocab_size=40)
            >>> enc = tok(["a b c d e", "a"], truncation=True, max_length=4, padding=True)
            >>> enc["input_ids"] == [[2, 5, 6, 3], [2, 5, 3, 0]]
            True
        """
        batched, inputs = self._inputs(text, text_pair, is_split_into_words)
        pad_mode = self._pad_mode(padding)
        trunc = self._truncation_strategy(truncation, max_length, pad_mode)
        if trunc is not None and max_length is None:
            max_length = self.model_max_length
            if max_length is None:
                trunc = None  # nothing to truncate to, like transformers (which warns)
        if pad_mode == "max_length" and max_length is None:
            max_length = self.model_max_length
            if max_length is None:
                raise ValueError(
                    "Tokenizer: padding='max_length' needs max_length (the tokenizer has no "
                    "model_max_length)"
                )
        if stride and trunc is None:
            raise ValueError("Tokenizer: stride needs truncation and a max_length")

        with self._lock:
            try:
                if trunc is not None:
                    self._backend.enable_truncation(
                        int(max_length), stride=int(stride), strategy=trunc
                    )
                encs = self._backend.encode_batch(
                    inputs,
                    is_pretokenized=is_split_into_words,
                    add_special_tokens=add_special_tokens,
                )
            except Exception as e:
                raise ValueError(f"Tokenizer: encoding failed: {e}") from None
            finally:
                self._backend.no_truncation()

        mapping = None
        if return_overflowing_tokens:
            rows, mapping = [], []
            for i, e in enumerate(encs):
                rows.append(e)
                mapping.append(i)
                for o in e.overflowing:
                    rows.append(o)
                    mapping.append(i)
            encs = rows

        want_types = (
            "token_type_ids" in self.model_input_names
            if return_token_type_ids is None
            else return_token_type_ids
        )
        want_mask = (
            "attention_mask" in self.model_input_names
            if return_attention_mask is None
            else return_attention_mask
        )
        lengths = np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(encs))
        fields: dict[str, list] = {"input_ids": [e.ids for e in encs]}
        if want_types:
            fields["token_type_ids"] = [e.type_ids for e in encs]
        if want_mask:
            fields["attention_mask"] = [e.attention_mask for e in encs]
        if return_special_tokens_mask:
            fields["special_tokens_mask"] = [e.special_tokens_mask for e in encs]
        if return_offsets_mapping:
            fields["offset_mapping"] = [e.offsets for e in encs]

        target = None
        if pad_mode == "longest":
            target = int(lengths.max()) if len(lengths) else 0
        elif pad_mode == "max_length":
            target = int(max_length)
        if target is not None and pad_to_multiple_of:
            m = int(pad_to_multiple_of)
            target = -(-target // m) * m
        side = padding_side or self.padding_side
        if side not in ("right", "left"):
            raise ValueError(f"Tokenizer: padding_side must be 'right' or 'left', got {side!r}")

        out: dict[str, Any] = {}
        if target is not None:
            pad_id = self.pad_token_id
            if pad_id is None:
                raise ValueError(
                    "Tokenizer: padding needs a pad token but this tokenizer has none; set "
                    "tok.pad_token (e.g. tok.pad_token = tok.eos_token)"
                )
            pads = {
                "input_ids": pad_id,
                "token_type_ids": self._pad_type_id(),
                "attention_mask": 0,
                "special_tokens_mask": 1,
                "offset_mapping": 0,
            }
            longest = int(lengths.max()) if len(lengths) else 0
            if longest > target:
                # padding="max_length" without truncation: longer rows stay longer
                if return_tensors is not None:
                    raise ValueError(
                        f"Tokenizer: a row has {longest} tokens, more than max_length={target}; "
                        "unable to create tensors: pass truncation=True"
                    )
                for k, rows in fields.items():
                    pad = [(pads[k], pads[k])] if k == "offset_mapping" else [pads[k]]
                    out[k] = [
                        (pad * (target - len(r)) + list(r))
                        if side == "left"
                        else (list(r) + pad * (target - len(r)))
                        for r in rows
                    ]
            else:
                for k, rows in fields.items():
                    out[k] = _pad_rows(rows, lengths, target, pads[k], side, k == "offset_mapping")
            if return_tensors is None and longest <= target:
                out = {k: v.tolist() for k, v in out.items()}
                if "offset_mapping" in out:
                    out["offset_mapping"] = [[tuple(p) for p in r] for r in out["offset_mapping"]]
        else:
            ragged = len(lengths) and (lengths != lengths[0]).any()
            if return_tensors is not None and ragged:
                raise ValueError(
                    "Tokenizer: unable to create tensors from rows of different lengths "
                    f"({int(lengths.min())}..{int(lengths.max())}); pass padding=True "
                    "and/or truncation=True"
                )
            if return_tensors is not None:
                for k, rows in fields.items():
                    shape = (len(rows), int(lengths[0]) if len(rows) else 0)
                    if k == "offset_mapping":
                        shape = (*shape, 2)
                    out[k] = np.asarray(rows, dtype=np.int64).reshape(shape)
            else:
                out = fields
        if return_length:
            out["length"] = lengths if return_tensors is not None else lengths.tolist()
        if mapping is not None:
            out["overflow_to_sample_mapping"] = (
                np.asarray(mapping, dtype=np.int64) if return_tensors is not None else mapping
            )

        if return_tensors == "pt":
            out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in out.items()}
        elif return_tensors not in (None, "np"):
            raise ValueError(
                f"Tokenizer: return_tensors must be 'pt', 'np' or None, got {return_tensors!r}"
            )
        if not batched and return_tensors is None and not return_overflowing_tokens:
            out = {k: v[0] for k, v in out.items()}
        return BatchEncoding(out, encs)

    def encode_batch(self, texts: Sequence, **kwargs: Any) -> BatchEncoding:
        """``self(texts, **kwargs)`` for a list of texts (or ``(first, second)`` pairs)."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.encode_batch: expected a list of texts, got one str")
        return self(list(texts), **kwargs)

    def decode(self, token_ids: Any, skip_special_tokens: bool = False) -> str:
        """Text of a sequence of ids (list, NumPy array or 1-D tensor)."""
        return self._backend.decode(_to_list(token_ids), skip_special_tokens=skip_special_tokens)

    def batch_decode(self, sequences: Any, skip_special_tokens: bool = False) -> list[str]:
        """Texts of several sequences (a list of lists or a 2-D tensor/array)."""
        if isinstance(sequences, torch.Tensor):
            sequences = sequences.detach().cpu().numpy()
        rows = [_to_list(s) for s in sequences]
        return self._backend.decode_batch(rows, skip_special_tokens=skip_special_tokens)

    # ------------------------------------------------------------------ helpers
    def _pad_type_id(self) -> int:
        pad = self.file_padding
        return int(pad.get("pad_type_id", 0)) if pad else 0

    @staticmethod
    def _inputs(text, text_pair, split_words: bool) -> tuple[bool, list]:
        def is_single(x) -> bool:
            if split_words:
                return isinstance(x, list | tuple) and (not x or isinstance(x[0], str))
            return isinstance(x, str)

        if is_single(text):
            if text_pair is not None and not is_single(text_pair):
                raise TypeError("Tokenizer: text is one text but text_pair is a batch")
            return False, [text if text_pair is None else (text, text_pair)]
        if not isinstance(text, list | tuple):
            raise TypeError(
                f"Tokenizer: text must be a str or a list of str, got {type(text).__name__}"
            )
        texts = list(text)
        if text_pair is None:
            for t in texts:
                if isinstance(t, tuple | list) and not split_words and len(t) != 2:
                    raise ValueError(f"Tokenizer: a pair must have 2 texts, got {len(t)}")
            return True, [tuple(t) if isinstance(t, list) and not split_words else t for t in texts]
        pairs = list(text_pair)
        if len(pairs) != len(texts):
            raise ValueError(f"Tokenizer: {len(texts)} texts but {len(pairs)} text_pair entries")
        return True, list(zip(texts, pairs, strict=True))

    @staticmethod
    def _pad_mode(padding) -> str | None:
        if padding is True or padding == "longest":
            return "longest"
        if padding is False or padding is None or padding == "do_not_pad":
            return None
        if padding == "max_length":
            return "max_length"
        raise ValueError(
            f"Tokenizer: padding must be True, False, 'longest', 'max_length' or "
            f"'do_not_pad', got {padding!r}"
        )

    @staticmethod
    def _truncation_strategy(truncation, max_length, pad_mode) -> str | None:
        if truncation is None:
            if max_length is not None and pad_mode != "max_length":
                return "longest_first"
            return None
        if truncation is False or truncation == "do_not_truncate":
            return None
        if truncation in _TRUNCATION:
            return _TRUNCATION[truncation]
        raise ValueError(
            "Tokenizer: truncation must be True, False, 'longest_first', 'only_first' or "
            f"'only_second', got {truncation!r}"
        )


def _pad_rows(
    rows: list, lengths: np.ndarray, target: int, value: int, side: str, pairs: bool
) -> np.ndarray:
    """Rows of unequal length into one (B, target[, 2]) int64 array, without a per-row loop
    over elements: the valid cells form a boolean mask filled from the concatenated rows."""
    b = len(rows)
    shape = (b, target, 2) if pairs else (b, target)
    out = np.full(shape, value, dtype=np.int64)
    if b == 0 or target == 0:
        return out
    # target is never below the longest row, so every row fits whole
    lens = lengths
    col = np.arange(target)
    if side == "right":
        mask = col[None, :] < lens[:, None]
    else:
        mask = col[None, :] >= (target - lens)[:, None]
    if pairs:
        flat = np.asarray(list(itertools.chain.from_iterable(rows)), dtype=np.int64)
        out[mask] = flat.reshape(-1, 2)
    else:
        out[mask] = np.fromiter(itertools.chain.from_iterable(rows), np.int64, int(lens.sum()))
    return out


# ---------------------------------------------------------------------- training pipelines
def _bpe(vocab_size, min_freq, specials, lowercase, progress):
    unk = "<unk>" if "<unk>" in specials else None
    tok = _hf.Tokenizer(models.BPE(unk_token=unk, end_of_word_suffix="</w>"))
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_freq,
        special_tokens=specials,
        end_of_word_suffix="</w>",
        show_progress=progress,
    )
    return tok, trainer


def _byte_bpe(vocab_size, min_freq, specials, lowercase, progress):
    tok = _hf.Tokenizer(models.BPE())
    if lowercase:
        tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_freq,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=progress,
    )
    return tok, trainer


def _wordpiece(vocab_size, min_freq, specials, lowercase, progress):
    unk = "[UNK]" if "[UNK]" in specials else (specials[0] if specials else "[UNK]")
    tok = _hf.Tokenizer(models.WordPiece(unk_token=unk))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=min_freq,
        special_tokens=specials,
        show_progress=progress,
    )
    return tok, trainer


def _unigram(vocab_size, min_freq, specials, lowercase, progress):
    tok = _hf.Tokenizer(models.Unigram())
    norm = [normalizers.NFKC()] + ([normalizers.Lowercase()] if lowercase else [])
    tok.normalizer = normalizers.Sequence(norm)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        unk_token="<unk>" if "<unk>" in specials else None,
        show_progress=progress,
    )
    return tok, trainer


def _bert_wordpiece_from_vocab(path: str, lowercase: bool) -> _hf.Tokenizer:
    try:
        vocab = models.WordPiece.read_file(path)
    except Exception as e:
        raise ValueError(f"Tokenizer.from_pretrained: cannot read {path}: {e}") from None
    tok = _hf.Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    specials = [t for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]") if t in vocab]
    tok.add_special_tokens(specials)
    if "[CLS]" in vocab and "[SEP]" in vocab:
        tok.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]",
            pair="[CLS] $A [SEP] $B:1 [SEP]:1",
            special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])],
        )
    return tok


_KINDS: dict[str, dict[str, Any]] = {
    "bpe": {
        "build": _bpe,
        "specials": ("<pad>", "<unk>", "<s>", "</s>"),
        "template": ("<s>", "</s>"),
    },
    "byte_bpe": {"build": _byte_bpe, "specials": ("<|endoftext|>",), "template": None},
    "wordpiece": {
        "build": _wordpiece,
        "specials": ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"),
        "template": ("[CLS]", "[SEP]"),
    },
    "unigram": {
        "build": _unigram,
        "specials": ("<pad>", "<unk>", "<s>", "</s>"),
        "template": ("<s>", "</s>"),
    },
}


def train_bpe(files=None, iterator=None, **kwargs: Any) -> Tokenizer:
    """``Tokenizer.train(..., kind="bpe")``."""
    return Tokenizer.train(files, iterator, kind="bpe", **kwargs)


def train_byte_level_bpe(files=None, iterator=None, **kwargs: Any) -> Tokenizer:
    """``Tokenizer.train(..., kind="byte_bpe")`` (GPT-2 style)."""
    return Tokenizer.train(files, iterator, kind="byte_bpe", **kwargs)


def train_wordpiece(files=None, iterator=None, **kwargs: Any) -> Tokenizer:
    """``Tokenizer.train(..., kind="wordpiece")`` (BERT style)."""
    return Tokenizer.train(files, iterator, kind="wordpiece", **kwargs)


def train_unigram(files=None, iterator=None, **kwargs: Any) -> Tokenizer:
    """``Tokenizer.train(..., kind="unigram")`` (SentencePiece style)."""
    return Tokenizer.train(files, iterator, kind="unigram", **kwargs)
