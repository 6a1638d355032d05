"""The seed's markup: a table with a ``Title`` and a ``Score`` column, as CSV, XLS or XLSX.

A title matches a trailer's video file name, without its extension (the seed's
``Markup.xls``: ``t000``) or with it (``t000.mp4``): :func:`match_markup` takes
either and says which rule matched. Column
names are matched without regard to case or surrounding spaces; other columns
are ignored; blank rows are skipped. A row with a title and no usable score
(not a number, or outside 0–10, the range of the product's reference scores),
or a title given twice, is an error that names the row. A CSV file is read as
UTF-8 (with or without a byte-order mark), else as Windows-1252, the encoding
Excel's "CSV (Comma delimited)" writes.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The range of a reference score.
SCORE_RANGE = (0.0, 10.0)
#: Encodings tried in turn for a CSV file: UTF-8 (a BOM is dropped), then Excel's Windows-1252.
CSV_ENCODINGS = ("utf-8-sig", "cp1252")


class MarkupError(ValueError):
    """The markup file cannot be read as Title/Score rows; the message says where and why."""


def read_markup(path: str | os.PathLike) -> dict[str, float]:
    """Read ``path`` (``.csv``, ``.xls`` or ``.xlsx``) → {title: score}, in file order."""
    path = Path(path)
    if path.is_dir():
        raise MarkupError(f"{path} is a folder: give the markup file in it (a CSV, XLS or XLSX with Title and Score)")
    if not path.is_file():
        raise MarkupError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path)
    elif suffix == ".xlsx":
        rows = _xlsx_rows(path)
    elif suffix == ".xls":
        rows = _xls_rows(path)
    else:
        raise MarkupError(f"{path}: unsupported markup format {suffix or '(none)'!r}; use .csv, .xls or .xlsx")
    return _parse(path, rows)


#: The suffixes of video files: a title may end with one when only a trailer's stem is known (a DATA_DIR made without
#: its source name), and a stored trailer keeps its uploaded name's suffix only where it is one (trailers.models).
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".ts", ".mts", ".mpg", ".mpeg", ".flv",
                            ".wmv", ".ogv", ".3gp"})
#: The two ways a title names a trailer, in the words the commands report them with.
BY_STEM = "the file name without its extension"
BY_FILE_NAME = "the file name with its extension"


@dataclass
class MarkupMatch:
    """Which markup row each trailer got: ``scores`` {key: score}; ``rules`` {key: BY_STEM or BY_FILE_NAME};
    ``unmatched`` the titles that named no trailer."""

    scores: dict[str, float] = field(default_factory=dict)
    rules: dict[str, str] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """The rules that matched, in words: "60 titles matched by the file name with its extension (t000.mp4)"."""
        parts = []
        for rule in (BY_STEM, BY_FILE_NAME):
            keys = [key for key, used in self.rules.items() if used == rule]
            if keys:
                parts.append(f"{len(keys)} title{'s' if len(keys) != 1 else ''} matched by {rule}")
        return "; ".join(parts) if parts else "no title matched a file"


def match_markup(scores: dict[str, float], files: dict[str, str]) -> MarkupMatch:
    """Give each trailer its markup score: ``files`` is {key: the trailer's file name} (the key is how the caller
    knows the trailer, e.g. its stem). A title matches a file name without its extension or with it (the
    extension in any case: ``t000.MP4`` names ``t000.mp4``). A file named by two titles (``t000`` and
    ``t000.mp4``) is an error that names both."""
    by_stem: dict[str, list[str]] = {}
    by_name: dict[str, list[str]] = {}
    for key, name in files.items():
        by_stem.setdefault(_same_form(Path(name).stem), []).append(key)
        by_name.setdefault(_name_key(name), []).append(key)
    match = MarkupMatch()
    titles_of: dict[str, str] = {}
    for title, score in scores.items():
        keys, rule = by_name.get(_name_key(title)), BY_FILE_NAME
        if not keys or Path(title).suffix == "":
            keys, rule = by_stem.get(_same_form(title)), BY_STEM
        if not keys and Path(title).suffix.lower() in VIDEO_SUFFIXES:  # the file's own name is not known
            keys = [k for k in by_stem.get(_same_form(Path(title).stem), []) if files[k] == k]
            rule = BY_FILE_NAME
        if not keys:
            match.unmatched.append(title)
            continue
        for key in keys:
            if key in titles_of:
                raise MarkupError(f"the titles {titles_of[key]!r} and {title!r} both name {files[key]}: keep one")
            titles_of[key] = title
            match.scores[key] = score
            match.rules[key] = rule
    return match


def _name_key(name: str) -> str:
    path = Path(name)
    return _same_form(path.stem + path.suffix.lower())


def _same_form(text: str) -> str:
    """``text`` in Unicode's composed form (NFC): a file name copied from a Mac spells "é" as "e" and a combining
    accent (NFD), a spreadsheet as one character, and both must name the same trailer."""
    return unicodedata.normalize("NFC", text)


def _parse(path: Path, rows: Iterable[list[Any]]) -> dict[str, float]:
    rows = enumerate(rows, start=1)  # numbered as a spreadsheet numbers them, blank rows included
    header = None
    for _, header_row in rows:
        if any(_text(c) for c in header_row):
            header = [_text(c).lower() for c in header_row]
            break
    if header is None:
        raise MarkupError(f"{path}: the file is empty")
    try:
        title_col, score_col = header.index("title"), header.index("score")
    except ValueError:
        raise MarkupError(f"{path}: needs a 'Title' and a 'Score' column, found {[h for h in header if h]}") from None
    result: dict[str, float] = {}
    for number, row in rows:
        cells = list(row) + [None] * (max(title_col, score_col) + 1 - len(row))
        title, raw = _text(cells[title_col]), cells[score_col]
        if not title and not _text(raw):
            continue
        if not title:
            raise MarkupError(f"{path}: row {number} has a score but no title")
        try:
            score = float(raw) if isinstance(raw, int | float) else float(_text(raw).replace(",", "."))
        except ValueError:
            raise MarkupError(f"{path}: row {number} ({title!r}): score {_text(raw)!r} is not a number") from None
        if not math.isfinite(score):
            raise MarkupError(f"{path}: row {number} ({title!r}): score {_text(raw)!r} is not a finite number")
        low, high = SCORE_RANGE
        if not low <= score <= high:
            raise MarkupError(f"{path}: row {number} ({title!r}): score {_text(raw)!r} is outside {low:g}–{high:g}")
        if title in result:
            raise MarkupError(f"{path}: row {number}: title {title!r} appears more than once")
        result[title] = score
    if not result:
        raise MarkupError(f"{path}: no Title/Score rows")
    return result


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # spreadsheets store a title like 1917 as 1917.0
    return str(cell).strip()


def _csv_rows(path: Path) -> list[list[str]]:
    text = _decode(path, path.read_bytes())
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text, newline=""), dialect))


def _decode(path: Path, data: bytes) -> str:
    """The text of a CSV file: UTF-16 where it starts with its byte-order mark (Excel's "Unicode text"), else in
    the first of :data:`CSV_ENCODINGS` that decodes it."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise MarkupError(f"{path}: starts as UTF-16 text but does not decode as it (damaged?)") from None
    for encoding in CSV_ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MarkupError(f"{path}: not a text file in UTF-8, UTF-16 or Windows-1252 (Excel's CSV) encoding")


def _xlsx_rows(path: Path) -> list[list[Any]]:
    import openpyxl  # here: a second to load, and only .xlsx markup needs it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise MarkupError(f"{path}: not a readable .xlsx file ({exc})") from None
    try:
        return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def _xls_rows(path: Path) -> list[list[Any]]:
    import xlrd  # here: only .xls markup needs it

    try:
        sheet = xlrd.open_workbook(path).sheet_by_index(0)
    except Exception as exc:
        raise MarkupError(f"{path}: not a readable .xls file ({exc})") from None
    return [sheet.row_values(i) for i in range(sheet.nrows)]
