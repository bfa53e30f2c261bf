"""Rows of CSV, TSV and JSON-lines files, with file-and-line error messages."""

from __future__ import annotations

import csv
import json
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any

_FORMATS = ("csv", "tsv", "jsonl")


def infer_format(path: str, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in _FORMATS:
            raise ValueError(f"unknown format {fmt!r} for {path}; choose from {_FORMATS}")
        return fmt
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext in ("jsonl", "ndjson", "json"):
        return "jsonl"
    if ext in ("tsv", "tab"):
        return "tsv"
    if ext == "csv":
        return "csv"
    raise ValueError(f"cannot tell the format of {path} from its extension; pass format=")


def read_rows(
    path: str | os.PathLike, fmt: str | None, has_header: bool, delimiter: str | None
) -> tuple[list[str] | None, Iterator[tuple[int, Any]]]:
    """``(header, rows)``: rows are lists (CSV/TSV) or dicts (JSONL), with their line number."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no file {path}")
    fmt = infer_format(path, fmt)
    if fmt == "jsonl":
        return None, _jsonl(path)
    fh = open(path, encoding="utf-8", newline="")  # noqa: SIM115 - closed by the generator
    # NLP TSVs (SST-2, GLUE) contain stray quote characters: TSV fields are never quoted
    if fmt == "tsv":
        reader = csv.reader(fh, delimiter=delimiter or "\t", quoting=csv.QUOTE_NONE)
    else:
        reader = csv.reader(fh, delimiter=delimiter or ",")
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    header = None
    if has_header:
        try:
            header = next(reader)
        except StopIteration:
            fh.close()
            raise ValueError(f"{path} is empty (expected a header row)") from None
        except csv.Error as e:
            fh.close()
            raise ValueError(f"{path}: line 1: {e}") from None

    def rows() -> Iterator[tuple[int, list[str]]]:
        with fh:
            try:
                for row in reader:
                    if row:
                        yield reader.line_num, row
            except csv.Error as e:
                raise ValueError(f"{path}: line {reader.line_num}: {e}") from None

    return header, rows()


def _jsonl(path: str) -> Iterator[tuple[int, dict]]:
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}: line {n} is not valid JSON: {e}") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}: line {n} is a {type(obj).__name__}, not an object")
            yield n, obj


def column_getter(path: str, header: list[str] | None, column: int | str | Sequence, what: str):
    """A function row -> value (several columns are joined by a space)."""
    if isinstance(column, list | tuple):
        getters = [column_getter(path, header, c, what) for c in column]
        return lambda row, n: " ".join(g(row, n) for g in getters)
    if isinstance(column, str) and header is not None:
        if column not in header:
            raise ValueError(f"{path}: no {what} column {column!r}; the header has {header}")
        column = header.index(column)
    if isinstance(column, int):
        idx = column

        def get(row, n):
            if isinstance(row, dict):
                raise ValueError(f"{path}: JSON-lines rows need column names, got index {idx}")
            try:
                return row[idx]
            except IndexError:
                raise ValueError(
                    f"{path}: line {n} has {len(row)} fields, no {what} column {idx}"
                ) from None

        return get
    key = column

    def get_key(row, n):
        if not isinstance(row, dict):
            raise ValueError(f"{path}: column name {key!r} needs a header row (has_header=True)")
        try:
            return row[key]
        except KeyError:
            raise ValueError(
                f"{path}: line {n} has no {what} field {key!r} (fields: {sorted(row)})"
            ) from None

    return get_key
