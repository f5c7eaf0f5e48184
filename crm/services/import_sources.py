"""Row sources for lead import, streamed from a (spooled) file: CSV, JSON array, NDJSON."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from crm.errors import InvalidInputError

_CHUNK = 64 * 1024
_MAX_FIELD = 64 * 1024


def csv_rows(
    path: Path, *, encoding: str = "utf-8-sig", delimiter: str | None = None
) -> Iterator[dict[str, Any]]:
    """Yield one dict per CSV record (header row required); quoted multi-line fields work."""
    csv.field_size_limit(_MAX_FIELD)
    with open(path, encoding=encoding, newline="", errors="strict") as f:
        try:
            sample = f.read(4096)
        except UnicodeDecodeError:
            raise InvalidInputError("encoding", f"the file is not {encoding}") from None
        f.seek(0)
        if not sample.strip():
            raise InvalidInputError("file", "the file is empty")
        sep = delimiter or _sniff(sample)
        reader = csv.DictReader(f, delimiter=sep)
        try:
            yield from reader
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InvalidInputError(
                "file", f"unreadable CSV near line {reader.line_num}: {exc}", line=reader.line_num
            ) from None


def _sniff(sample: str) -> str:
    first = sample.splitlines()[0] if sample else ""
    counts = {sep: first.count(sep) for sep in (",", ";", "\t", "|")}
    return max(counts, key=lambda k: counts[k]) if any(counts.values()) else ","


def json_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Yield objects from a JSON array (``[{...}, ...]``) or NDJSON, never the whole file."""
    decoder = json.JSONDecoder()
    with open(path, encoding="utf-8-sig") as f:
        buf, pos, started = "", 0, False
        while True:
            try:
                chunk = f.read(_CHUNK)
            except UnicodeDecodeError:
                raise InvalidInputError("encoding", "JSON must be UTF-8") from None
            buf = buf[pos:] + chunk
            pos = 0
            while True:
                pos = _skip(buf, pos, started)
                if pos < len(buf) and buf[pos] == "[" and not started:
                    started, pos = True, pos + 1
                    continue
                if pos >= len(buf) or buf[pos] == "]":
                    break
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    if not chunk:
                        raise InvalidInputError("file", "malformed JSON") from None
                    break  # need more data
                except RecursionError:
                    raise InvalidInputError("file", "a record is nested too deeply") from None
                if end == len(buf) and chunk:
                    break  # a number or literal may continue in the next chunk
                yield _object(obj)
                pos = end
            if not chunk:
                return


def _skip(buf: str, pos: int, started: bool) -> int:
    while pos < len(buf) and (buf[pos].isspace() or (started and buf[pos] == ",")):
        pos += 1
    return pos


def _object(obj: Any) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise InvalidInputError("file", "each JSON record must be an object")
    return obj
