"""Fetchers: turn what the sampler yields into a (collated) batch, in a worker or in-process.

A fetcher remembers which sample it was reading when something raised, so a worker's error
can name the sample index.
"""

from __future__ import annotations

__all__ = ["MapDatasetFetcher", "IterableDatasetFetcher", "create_fetcher"]


class _BaseDatasetFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        # where the last failure happened: ("sample", index) or ("batch", indices)
        self.failed_at: tuple | None = None

    def fetch(self, possibly_batched_index):
        raise NotImplementedError


class MapDatasetFetcher(_BaseDatasetFetcher):
    """``dataset[i]`` for each index of the batch (or ``__getitems__``), then ``collate_fn``."""

    def fetch(self, possibly_batched_index):
        self.failed_at = None
        ds = self.dataset
        if self.auto_collation:
            getitems = getattr(ds, "__getitems__", None)
            if getitems is not None:
                self.failed_at = ("batch", possibly_batched_index)
                data = getitems(possibly_batched_index)
            else:
                data = []
                append = data.append
                idx = None
                try:
                    for idx in possibly_batched_index:
                        append(ds[idx])
                except BaseException:
                    self.failed_at = ("sample", idx)
                    raise
        else:
            self.failed_at = ("sample", possibly_batched_index)
            data = ds[possibly_batched_index]
        self.failed_at = ("batch", possibly_batched_index)
        out = self.collate_fn(data)
        self.failed_at = None
        return out


class IterableDatasetFetcher(_BaseDatasetFetcher):
    """The next sample(s) of the dataset's iterator; ``StopIteration`` when it is exhausted."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        super().__init__(dataset, auto_collation, collate_fn, drop_last)
        self.dataset_iter = iter(dataset)
        self.ended = False
        self.count = 0  # samples drawn so far: the position named in error messages

    def fetch(self, possibly_batched_index):
        self.failed_at = None
        if self.ended:
            raise StopIteration
        it = self.dataset_iter
        if self.auto_collation:
            data = []
            try:
                for _ in possibly_batched_index:
                    try:
                        data.append(next(it))
                    except StopIteration:
                        self.ended = True
                        break
                    self.count += 1
            except BaseException:
                self.failed_at = ("sample", self.count)
                raise
            if not data or (self.drop_last and len(data) < len(possibly_batched_index)):
                raise StopIteration
        else:
            try:
                data = next(it)
            except StopIteration:
                self.ended = True
                raise
            except BaseException:
                self.failed_at = ("sample", self.count)
                raise
            self.count += 1
        self.failed_at = ("batch", None)
        out = self.collate_fn(data)
        self.failed_at = None
        return out


def create_fetcher(kind: int, dataset, auto_collation: bool, collate_fn, drop_last: bool):
    """The fetcher for a map-style (kind 0) or iterable-style (kind 1) dataset."""
    cls = MapDatasetFetcher if kind == 0 else IterableDatasetFetcher
    return cls(dataset, auto_collation, collate_fn, drop_last)
