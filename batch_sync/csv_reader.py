"""Read a CSV or tab-separated export into a SourceTable, keeping every value as text.

Every cell stays the exact text of the file: no number inference (``000123``
stays ``000123``) and no missing-value markers (``NA`` and ``NULL`` are SKUs
like any other). The encoding and the delimiter are detected, never assumed,
and a record whose number of values differs from the header's is reported
instead of being padded or cut.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import structlog

from batch_sync.csv_layout import scan_records
from batch_sync.errors import InputError
from batch_sync.table import (
    DEFAULT_HEADER_SPEC,
    HEADER_SEARCH_ROWS,
    CellProblem,
    HeaderMap,
    HeaderSpec,
    SourceTable,
    build_frame,
    map_header,
    matching_column_count,
)

log = structlog.get_logger(__name__)

DELIMITERS = (",", ";", "\t", "|")

# The csv_encoding setting's value that detects the encoding.
AUTO_ENCODING = "auto"
# Text that an encoding must decode unchanged to be usable: the delimiters
# and the header are found in it as plain ASCII.
ASCII_SAMPLE = "skuId,quantity;warehouseId\tinventoryType|0123456789\r\n\""

_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

# Leading bytes of file types that are sometimes saved with a .csv name.
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "an Excel workbook or another zip archive; save it as .xlsx",
    b"\xd0\xcf\x11\xe0": (
        "a legacy Excel .xls file or a password-protected workbook; open it in "
        "Excel and save it as CSV UTF-8 or as .xlsx without a password"
    ),
    b"%PDF": "a PDF document; export the stock list as CSV or .xlsx",
}


def decode(data: bytes, source: str, encoding: str | None = None) -> tuple[str, str]:
    """Decode the file's bytes and return the text and the encoding used.

    A byte-order mark decides the encoding. Without one, ``encoding`` is
    used if given; otherwise UTF-8 is tried first and then Windows-1252, the
    encoding of Excel's plain "CSV" export on Western-language Windows.
    Decoding is strict, so no character is ever dropped or replaced.
    """
    for signature, advice in _BINARY_SIGNATURES.items():
        if data.startswith(signature):
            raise InputError(f"{source}: this is not a text file but {advice}")

    if data.startswith(b"\xef\xbb\xbf"):
        candidates = ["utf-8-sig"]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ["utf-16"]
    elif encoding is not None:
        return _decode_as(data, source, encoding), encoding
    else:
        # NOTE: a file in another 8-bit encoding, such as Windows-1250, also
        # decodes as Windows-1252 but with other letters. A warning in the log
        # and the report summary name the encoding used, and the
        # csv_encoding setting names the right one.
        candidates = ["utf-8", "cp1252"]

    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if "\x00" in text:
            raise InputError(
                f"{source}: the file contains NUL bytes, so it is not a text "
                "export; export the stock list again as CSV"
            )
        if encoding == "cp1252":
            log.warning(
                "load.encoding_assumed",
                path=source,
                encoding=encoding,
                advice="if letters such as Č or Ř look wrong in the report, set csv_encoding (--encoding) to the export's code page",
            )
        return text, encoding

    raise InputError(
        f"{source}: the file is neither UTF-8 nor Windows-1252 text; export it "
        "again as 'CSV UTF-8', or name its code page with --encoding (such as "
        "--encoding cp1250)"
    )


def _decode_as(data: bytes, source: str, encoding: str) -> str:
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InputError(
            f"{source}: line {line} is not {encoding} text (byte "
            f"{data[error.start:error.start + 1]!r} cannot be read); set csv_encoding "
            "to the encoding the export uses, or export the file again as 'CSV UTF-8'"
        ) from error
    if "\x00" in text:
        raise InputError(
            f"{source}: the file contains NUL bytes, so it is not a text "
            "export; export the stock list again as CSV"
        )
    return text


# One line with its terminator, split the way io.StringIO(newline="") splits.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+")


def _records(text: str, delimiter: str, lazy: bool = False) -> Iterator[list[str]]:
    """Return a strict csv reader over ``text``.

    ``lazy`` splits lines as the reader asks for them instead of copying the
    text into a buffer first, which is faster when only the first records
    are read.
    """
    lines: Iterable[str]
    if lazy:
        lines = (match.group() for match in _LINE.finditer(text))
    else:
        lines = io.StringIO(text, newline="")
    # strict=True makes a stray or unclosed quote an error, because the csv
    # module would otherwise drop it or read the rest of the file as one value.
    return csv.reader(lines, delimiter=delimiter, strict=True)


def _find_header(
    text: str, delimiter: str, spec: HeaderSpec
) -> tuple[int, list[str], int]:
    """Return (record number, cells, columns named) of the best header row."""
    best: tuple[int, list[str], int] = (0, [], -1)
    records = _records(text, delimiter, lazy=True)
    column_count = len(set(spec.names.values()))
    try:
        for number, record in enumerate(records, start=1):
            if number > HEADER_SEARCH_ROWS:
                break
            score = matching_column_count(record, spec)
            if score > best[2]:
                best = (number, record, score)
            if score == column_count:
                break
    except csv.Error:
        # The wrong delimiter can break quoting; reading the records with the
        # chosen delimiter reports a quote error that remains.
        pass
    return best


def detect_delimiter(text: str, path: Path, spec: HeaderSpec) -> str:
    """Pick the delimiter whose header row names the most of the spec's columns."""
    if path.suffix.lower() == ".tsv":
        return "\t"

    scores = {}
    for delimiter in DELIMITERS:
        _, cells, score = _find_header(text, delimiter, spec)
        scores[delimiter] = (score, len(cells))
    return max(DELIMITERS, key=lambda delimiter: scores[delimiter])


def read_csv(
    path: Path, spec: HeaderSpec = DEFAULT_HEADER_SPEC, encoding: str | None = None
) -> SourceTable:
    """Read a delimited text export; raise InputError if it cannot be used.

    ``encoding`` applies to a file without a byte-order mark; None detects it.
    """
    source = str(path)
    data = path.read_bytes()
    if not data.strip():
        raise InputError(f"{source}: the file is empty; export the stock list again")

    text, encoding = decode(data, source, encoding)
    delimiter = detect_delimiter(text, path, spec)
    header_row, header, _ = _find_header(text, delimiter, spec)
    header_map = map_header(header, source, spec)
    log.info(
        "load.csv_dialect",
        path=source,
        encoding=encoding,
        delimiter=_DELIMITER_NAMES[delimiter],
        header_row=header_row,
    )

    try:
        table = _read_records_fast(
            path, data, text, encoding, delimiter, header_row, header_map, len(header)
        )
        if table is None:
            table = _read_records(
                path, text, delimiter, header_row, header_map, len(header)
            )
    except csv.Error as error:
        raise InputError(
            f"{source}: the file is not valid CSV ({error}), often because of a "
            "quote that is never closed; export the stock list again"
        ) from error
    table.encoding = encoding
    return table


def _read_records_fast(
    path: Path,
    data: bytes,
    text: str,
    encoding: str,
    delimiter: str,
    header_row: int,
    header_map: HeaderMap,
    width: int,
) -> SourceTable | None:
    """Read the records below the header row with pandas' C parser.

    Return None when the file's quoting is not plain or the two parsers
    disagree on the number of records, so the caller reads the file with the
    ``csv`` module instead. Only records that may be blank or whose number of
    values differs from the header's are parsed again with the ``csv``
    module, to apply the same rules as ``_read_records``.
    """
    if encoding == "utf-8":
        utf8 = data
    elif encoding == "utf-8-sig":
        utf8 = data[3:]
    else:
        utf8 = text.encode("utf-8")
    layout = scan_records(utf8, delimiter)
    if layout is None or len(layout.starts) <= header_row:
        return None

    field_counts = layout.field_counts[header_row:]
    data_start = int(layout.starts[header_row])
    try:
        frame = _parse_values(
            utf8[data_start:], delimiter, header_map, width, field_counts
        )
    except pd.errors.ParserError:
        # pandas rejects some layouts that the csv module reads, such as a
        # single data row shorter than the header.
        return None
    if len(frame) != len(field_counts):
        log.warning(
            "load.csv_parsers_disagree",
            path=str(path),
            csv_records=len(field_counts),
            pandas_rows=len(frame),
        )
        return None

    def record_at(index: int) -> list[str]:
        record_index = header_row + index
        start = int(layout.starts[record_index])
        end = int(layout.ends[record_index])
        return next(_records(utf8[start:end].decode("utf-8"), delimiter), [])

    keep = np.ones(len(field_counts), dtype=bool)
    for index in np.flatnonzero(layout.maybe_blank[header_row:]).tolist():
        if not any(cell.strip() for cell in record_at(index)):
            keep[index] = False

    problems: list[CellProblem] = []
    mismatched = np.flatnonzero((field_counts != width) & keep)
    for index in mismatched.tolist():
        record = record_at(index)
        if len(record) > width and not any(cell.strip() for cell in record[width:]):
            continue
        problems.append(
            _misaligned_row(header_row + 1 + index, record, width, delimiter)
        )

    row_numbers = np.arange(header_row + 1, header_row + 1 + len(field_counts))
    if not keep.all():
        frame = frame[keep]
        row_numbers = row_numbers[keep]
    frame.index = pd.Index(row_numbers, dtype="int64", name="row")
    if frame.empty:
        raise InputError(
            f"{path}: the file has a header row but no data rows; export the "
            "stock list again"
        )

    return SourceTable(
        path=path,
        frame=frame,
        header_row=header_row,
        delimiter=delimiter,
        decimal_comma=delimiter == ";",
        ignored_columns=header_map.ignored,
        cell_problems=problems,
        blank_rows=int((~keep).sum()),
    )


def _parse_values(
    data: bytes,
    delimiter: str,
    header_map: HeaderMap,
    width: int,
    field_counts: np.ndarray,
) -> pd.DataFrame:
    """Parse the required columns as exact text, one row per record, blank lines kept."""
    column_count = max(width, int(field_counts.max(initial=0)))
    by_position = {position: name for name, position in header_map.positions.items()}
    frame = pd.read_csv(
        io.BytesIO(data),
        sep=delimiter,
        header=None,
        names=range(column_count),
        usecols=sorted(by_position),
        dtype="str",
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        quotechar='"',
        doublequote=True,
        encoding="utf-8",
        engine="c",
    )
    frame = frame.rename(columns=by_position)
    return frame[list(header_map.positions)]


def _misaligned_row(
    number: int, record: list[str], width: int, delimiter: str
) -> CellProblem:
    return CellProblem(
        row=number,
        column="",
        value=delimiter.join(record),
        reason=(
            f"the row has {len(record)} values but the header has "
            f"{width} columns, so values may sit under the wrong "
            "header; check for a missing or unquoted "
            f"{_DELIMITER_NAMES[delimiter]} in this row"
        ),
    )


def _read_records(
    path: Path,
    text: str,
    delimiter: str,
    header_row: int,
    header_map: HeaderMap,
    width: int,
) -> SourceTable:
    """Read the records below the header row into a SourceTable with the ``csv`` module."""
    # NOTE: a file cut off in the middle of its last row, without a closing
    # quote to give it away, reads that row as it is.
    source = str(path)
    columns: dict[str, list[str]] = {name: [] for name in header_map.positions}
    row_numbers: list[int] = []
    problems: list[CellProblem] = []
    blank_rows = 0
    for number, record in enumerate(_records(text, delimiter), start=1):
        if number <= header_row:
            continue
        if not any(cell.strip() for cell in record):
            blank_rows += 1
            continue

        extra = record[width:]
        if len(record) < width or any(cell.strip() for cell in extra):
            problems.append(_misaligned_row(number, record, width, delimiter))
        row_numbers.append(number)
        for name, position in header_map.positions.items():
            columns[name].append(record[position] if position < len(record) else "")

    if not row_numbers:
        raise InputError(
            f"{source}: the file has a header row but no data rows; export the "
            "stock list again"
        )

    return SourceTable(
        path=path,
        frame=build_frame(columns, row_numbers),
        header_row=header_row,
        delimiter=delimiter,
        decimal_comma=delimiter == ";",
        ignored_columns=header_map.ignored,
        cell_problems=problems,
        blank_rows=blank_rows,
    )
