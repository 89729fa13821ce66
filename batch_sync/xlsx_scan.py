"""Scan a sheet's XML with regular expressions: the fast path of the workbook reader.

ElementTree creates Python objects for every element of a sheet, which made
a 200,000-row sheet take about nine times as long to read as python-calamine
does. This scan decompresses the sheet part 64 KiB at a time, cuts it at row
boundaries, and finds only the cells of the needed columns, with one
regular expression per column. It keeps each cell's attributes and values
as lists, so the reader can convert a whole column at once.

The scan accepts the XML that spreadsheet programs write: UTF-8, unprefixed
tags, an ``r`` reference first on every row and cell, double-quoted cell
attributes, and cells that hold an optional formula and then one ``<v>`` or
one plain inline string. On anything else (comments, CDATA, namespace
prefixes, rich-text inline strings, unknown entities) it raises
UnsupportedXml, and the reader parses the sheet with ElementTree instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import IO

import numpy as np

# Bytes read from the decompressed sheet part per step. Each piece is scanned
# and converted before the next is read, so memory stays flat however many
# empty styled rows a sheet has. The scan uses about 7 times the piece size
# in memory at once, and 1 MiB pieces were not measurably faster on the
# 200,000-row benchmark file (in-process timings on a shared 2-core machine).
SCAN_CHUNK_BYTES = 1 << 16

# The maximum size of the sheet prolog (the XML declaration and the elements
# before <sheetData>, such as column widths) that the scan looks through.
MAX_PROLOG_BYTES = 4 << 20

_SHEET_DATA = (b"<sheetData>", b"<sheetData/>")
_ENCODING = re.compile(rb"""encoding=["']([A-Za-z0-9._-]+)["']""")

# XML that the regular expressions below would misread: a row or cell whose
# reference is not its first attribute or not a plain A1 reference, comments,
# CDATA and processing instructions. Each alternative starts with "<", which
# keeps the search fast.
_UNSUPPORTED_TAG = re.compile(
    r'<(?:c(?:[\t\n\r/>]| (?!r="[A-Z]{1,3}[0-9]+"))'
    r'|row(?:[\t\n\r/>]| (?!r="[0-9]+"))'
    r"|[!?])"
)
# A row or cell tag with a namespace prefix.
_PREFIXED_TAG = re.compile(r":(?:c|row)[\s/>]")
# The five predefined entities and character references are the only
# entities that a sheet without a DTD can use.
_ENTITY = re.compile(r"&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9A-Fa-f]+));")
_UNKNOWN_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)")
_PREDEFINED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}

_ROW_NUMBER = re.compile(r'<row r="([0-9]+)"')
_HIDDEN_ROW = re.compile(r"""<row r="([0-9]+)"[^>]*?\shidden=(["'])(?:1|true)\2""")


class UnsupportedXml(Exception):
    """The sheet XML has a form that the scan does not read."""


@dataclass(frozen=True)
class ScannedCells:
    """The cells of one column in one piece of a sheet, in sheet order.

    ``attributes`` is each cell's attribute text after its reference, such as
    `` s="1" t="s"``. ``formulas``, ``value_tags`` and ``inline_tags`` hold
    ``<f``, ``<v`` and ``<is>`` when the cell has that element and "" when it
    does not, so an empty ``<v/>`` differs from a missing one. ``values`` and
    ``inline_texts`` are the element texts with XML entities decoded.
    """

    rows: np.ndarray
    attributes: list[str]
    formulas: list[str]
    value_tags: list[str]
    values: list[str]
    inline_tags: list[str]
    inline_texts: list[str]


@dataclass(frozen=True)
class ScannedPiece:
    """The rows of one piece of a sheet: every row number, the hidden ones and the cells."""

    row_numbers: np.ndarray
    hidden_rows: list[int]
    columns: dict[int, ScannedCells]


def column_letters(position: int) -> str:
    """Return the column name of a zero-based position: 0 is ``A``, 26 is ``AA``."""
    letters = ""
    number = position + 1
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


@cache
def _cell_pattern(letters: str) -> re.Pattern[str]:
    # Groups: row number, attributes, formula tag, value tag, value text,
    # inline tag, inline text, and a last group that catches any other body.
    # An empty cell (<c .../>) does not match at all, because its text is
    # blank whatever its type and style, and skipping it keeps sheets with
    # many styled empty rows cheap. The attributes are matched possessively,
    # so a shorter match cannot leave a space for the last group to catch.
    return re.compile(
        f'<c r="{letters}([0-9]+)"((?: [a-z]+="[^"]*")*+)'
        r"(?:>(?:(<f)(?: [^>]*)?(?:/>|>[^<]*</f>))?"
        r"(?:(<v)(?:>([^<]*)</v>|/>)"
        r'|(<is>)<t(?: xml:space="preserve")?>([^<]*)</t></is>)?</c>'
        r"|(?!/>)([\s\S]))"
    )


def scan_sheet(stream: IO[bytes], positions: Iterable[int]) -> Iterator[ScannedPiece]:
    """Yield the sheet's rows piece by piece, with the cells of the columns at ``positions``.

    Raises UnsupportedXml, possibly after some pieces, if the XML has a form
    that the scan does not read.
    """
    letters = {position: column_letters(position) for position in positions}
    last_row = 0
    for text in _sheet_data_pieces(stream):
        piece = _scan_piece(text, letters)
        if len(piece.row_numbers):
            if piece.row_numbers[0] <= last_row:
                raise UnsupportedXml("row numbers are not in ascending order")
            last_row = int(piece.row_numbers[-1])
        yield piece


def _sheet_data_pieces(stream: IO[bytes]) -> Iterator[str]:
    """Yield the text inside ``<sheetData>`` in pieces that end at a row boundary."""
    buffer = _read_prolog(stream)
    if buffer is None:
        return
    while True:
        end = buffer.find(b"</sheetData>")
        if end != -1:
            yield _decode(memoryview(buffer)[:end])
            return
        cut = buffer.rfind(b"<row ")
        if cut > 0:
            yield _decode(memoryview(buffer)[:cut])
            buffer = buffer[cut:]
        block = stream.read(SCAN_CHUNK_BYTES)
        if not block:
            raise UnsupportedXml("the sheet has no </sheetData> end tag")
        buffer += block


def _read_prolog(stream: IO[bytes]) -> bytes | None:
    """Read past the ``<sheetData>`` tag and return the bytes after it, or None if it is empty."""
    buffer = b""
    while True:
        block = stream.read(SCAN_CHUNK_BYTES)
        buffer += block
        for tag in _SHEET_DATA:
            start = buffer.find(tag)
            if start != -1:
                _check_prolog(buffer[:start])
                if tag == b"<sheetData/>":
                    return None
                return buffer[start + len(tag) :]
        if not block or len(buffer) > MAX_PROLOG_BYTES:
            raise UnsupportedXml("no unprefixed <sheetData> element")


def _check_prolog(prolog: bytes) -> None:
    declared = _ENCODING.search(prolog[:200])
    if declared and declared.group(1).lower() not in (b"utf-8", b"utf8"):
        raise UnsupportedXml(f"the sheet is encoded as {declared.group(1)!r}")
    if prolog.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in prolog[:4]:
        raise UnsupportedXml("the sheet is encoded as UTF-16 or UTF-32")
    if b"<!" in prolog:
        raise UnsupportedXml("the sheet has a document type declaration or a comment")


def _decode(data: memoryview) -> str:
    try:
        text = str(data, "utf-8")
    except UnicodeDecodeError as error:
        raise UnsupportedXml("the sheet is not valid UTF-8") from error
    found = _UNSUPPORTED_TAG.search(text) or _PREFIXED_TAG.search(text)
    if found:
        raise UnsupportedXml(f"unsupported XML near {found.group()!r}")
    if "xmlns" in text:
        raise UnsupportedXml("the sheet data declares a namespace")
    if "&" in text and _UNKNOWN_ENTITY.search(text):
        raise UnsupportedXml("the sheet uses an entity that is not predefined")
    return text


def _scan_piece(text: str, letters: dict[int, str]) -> ScannedPiece:
    row_numbers = np.array(_ROW_NUMBER.findall(text), dtype=np.int64)
    if len(row_numbers) > 1 and not (np.diff(row_numbers) > 0).all():
        raise UnsupportedXml("row numbers are not in ascending order")
    hidden_rows = []
    if "hidden" in text:
        hidden_rows = [int(number) for number, _ in _HIDDEN_ROW.findall(text)]
    columns = {
        position: _scan_column(text, column) for position, column in letters.items()
    }
    return ScannedPiece(row_numbers, hidden_rows, columns)


def _scan_column(text: str, letters: str) -> ScannedCells:
    matches = _cell_pattern(letters).findall(text)
    if not matches:
        return ScannedCells(np.array([], dtype=np.int64), [], [], [], [], [], [])
    # One list per group; itemgetter is much faster here than zip(*matches).
    groups = [list(map(itemgetter(index), matches)) for index in range(8)]
    rows, attributes, formulas, value_tags, values, inline_tags, inline, other = groups
    if any(other):
        raise UnsupportedXml(f"a cell of column {letters} has an unsupported form")
    return ScannedCells(
        rows=np.array(rows, dtype=np.int64),
        attributes=attributes,
        formulas=formulas,
        value_tags=value_tags,
        values=_decode_entities(values),
        inline_tags=inline_tags,
        inline_texts=_decode_entities(inline),
    )


def _decode_entities(texts: list[str]) -> list[str]:
    """Decode entities and line ends in element texts as an XML parser does."""
    joined = "".join(texts)
    if "&" not in joined and "\r" not in joined:
        return texts
    return [_decode_text(text) for text in texts]


def _decode_text(text: str) -> str:
    # A parser reads a CR LF pair or a lone CR as LF before it decodes
    # references, so "&#13;" still gives a CR.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "&" not in text:
        return text
    return _ENTITY.sub(_entity_character, text)


def _entity_character(match: re.Match[str]) -> str:
    name, decimal, hexadecimal = match.groups()
    if name:
        return _PREDEFINED[name]
    return chr(int(decimal) if decimal else int(hexadecimal, 16))
