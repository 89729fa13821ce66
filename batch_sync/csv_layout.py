"""Find where each CSV record starts and ends, and how many fields it has, with numpy.

The CSV reader parses the values of a large file with pandas' C parser, which
is lenient where Python's ``csv`` module with ``strict=True`` is not, and
which cannot report each record's number of fields. This module scans the
UTF-8 bytes once, in vectorised steps, to return the layout of every record
as the ``csv`` module would read it. It declines (returns None) whenever the
quoting is not the plain form where both parsers agree: every quote must
open a field, close it, or be one of a doubled pair inside a quoted field.
The reader then uses the ``csv`` module for the whole file, which reports
the exact error of a stray or unclosed quote.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

QUOTE = ord('"')
LINE_FEED = 10
CARRIAGE_RETURN = 13

# Above this many records that may be blank, scanning every byte once is
# cheaper than parsing each of those records again with the csv module.
FULL_SCAN_CANDIDATES = 20_000

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RecordLayout:
    """The records of a CSV buffer, in file order.

    ``starts`` and ``ends`` are byte offsets, so ``data[starts[i]:ends[i]]``
    is record ``i`` without its line terminator. ``field_counts`` is the
    number of values the ``csv`` module reads from each record (0 for an
    empty line). ``maybe_blank`` marks records that contain no printable
    ASCII character other than quotes and delimiters, so every other record
    has a value that is not blank.
    """

    starts: IntArray
    ends: IntArray
    field_counts: IntArray
    maybe_blank: BoolArray


def _printable(values: npt.NDArray[np.uint8], delimiter: int) -> BoolArray:
    """Return which bytes are printable ASCII other than a quote or the delimiter."""
    printable = values - np.uint8(0x21) < np.uint8(0x7F - 0x21)
    printable &= (values != QUOTE) & (values != delimiter)
    return printable


def _outside_quotes(positions: IntArray, quotes: IntArray) -> BoolArray:
    # A position is inside a quoted field when an odd number of quotes precede it.
    if not len(quotes):
        return np.ones(len(positions), dtype=bool)
    return np.asarray(np.searchsorted(quotes, positions) % 2 == 0, dtype=np.bool_)


def _plain_quoting(buffer: npt.NDArray[np.uint8], quotes: IntArray, delimiter: int) -> bool:
    """Return whether every quote opens a field, closes one, or is doubled inside one."""
    if len(quotes) % 2:
        return False
    if not len(quotes):
        return True

    field_ends = np.array([delimiter, LINE_FEED, CARRIAGE_RETURN], dtype=np.uint8)
    opening = quotes[0::2]
    closing = quotes[1::2]

    # An opening quote follows a delimiter, a line terminator or the start of
    # the file, or directly follows a closing quote (a doubled quote).
    after_closing = np.zeros(len(opening), dtype=bool)
    after_closing[1:] = opening[1:] - 1 == closing[:-1]
    previous = buffer[np.maximum(opening - 1, 0)]
    opens_field = (opening == 0) | np.isin(previous, field_ends) | after_closing
    if not opens_field.all():
        return False

    # A closing quote is followed by a delimiter, a line terminator, the end
    # of the file, or the quote that reopens it (a doubled quote).
    before_opening = np.zeros(len(closing), dtype=bool)
    before_opening[:-1] = closing[:-1] + 1 == opening[1:]
    at_end = closing == len(buffer) - 1
    following = buffer[np.minimum(closing + 1, len(buffer) - 1)]
    closes_field = at_end | np.isin(following, field_ends) | before_opening
    return bool(closes_field.all())


def _crlf_record_bounds(buffer: npt.NDArray[np.uint8], quotes: IntArray) -> tuple[IntArray, IntArray]:
    """Return the start and end offsets of each record of a file whose every line ends in CRLF."""
    line_feeds = np.flatnonzero(buffer == LINE_FEED)
    if len(quotes):
        line_feeds = line_feeds[_outside_quotes(line_feeds, quotes)]
    return _bounds(line_feeds - 1, line_feeds + 1, len(buffer))


def _bounds(ends: IntArray, next_starts: IntArray, size: int) -> tuple[IntArray, IntArray]:
    """Return the start and end offsets of each record from where each terminator starts and ends."""
    starts = np.concatenate(([0], next_starts)).astype(np.int64)
    if starts[-1] < size:
        # The last record has no line terminator.
        ends = np.concatenate((ends, [size])).astype(np.int64)
    else:
        starts = starts[:-1]
    return starts, ends.astype(np.int64)


def _record_bounds(
    buffer: npt.NDArray[np.uint8], quotes: IntArray, has_carriage_return: bool
) -> tuple[IntArray, IntArray]:
    """Return the start and end offsets of each record. CR, LF and CRLF end a record."""
    if has_carriage_return:
        terminators = np.flatnonzero(
            (buffer == LINE_FEED) | (buffer == CARRIAGE_RETURN)
        )
    else:
        terminators = np.flatnonzero(buffer == LINE_FEED)
    if len(quotes):
        terminators = terminators[_outside_quotes(terminators, quotes)]
    # The LF of a CRLF pair belongs to the record that its CR ends.
    crlf_tail = (buffer[terminators] == LINE_FEED) & (terminators > 0)
    crlf_tail &= buffer[np.maximum(terminators - 1, 0)] == CARRIAGE_RETURN
    ends = terminators[~crlf_tail]

    terminator_lengths = np.ones(len(ends), dtype=np.int64)
    followed_by_lf = ends + 1 < len(buffer)
    followed_by_lf[followed_by_lf] = buffer[ends[followed_by_lf] + 1] == LINE_FEED
    terminator_lengths[(buffer[ends] == CARRIAGE_RETURN) & followed_by_lf] = 2

    return _bounds(ends, ends + terminator_lengths, len(buffer))


def scan_records(data: bytes, delimiter: str) -> RecordLayout | None:
    """Return the layout of the records in UTF-8 ``data``, or None if the quoting is not plain.

    ``delimiter`` must be one ASCII character.
    """
    buffer = np.frombuffer(data, dtype=np.uint8)
    if not len(buffer):
        return None
    delimiter_byte = ord(delimiter)
    if b'"' in data:
        quotes = np.flatnonzero(buffer == QUOTE)
    else:
        quotes = np.empty(0, dtype=np.int64)
    if not _plain_quoting(buffer, quotes, delimiter_byte):
        return None

    carriage_returns = data.count(b"\r")
    if carriage_returns and carriage_returns == data.count(b"\r\n") == data.count(b"\n"):
        # Every line ends in CRLF, as Excel and the csv module write them, so
        # the line feeds alone mark the records: one pass over the bytes
        # instead of several.
        starts, ends = _crlf_record_bounds(buffer, quotes)
    else:
        starts, ends = _record_bounds(buffer, quotes, carriage_returns > 0)

    delimiters = np.flatnonzero(buffer == delimiter_byte)
    if len(quotes):
        delimiters = delimiters[_outside_quotes(delimiters, quotes)]
    record_of_delimiter = np.searchsorted(ends, delimiters, side="right")
    field_counts = np.bincount(record_of_delimiter, minlength=len(starts)) + 1
    field_counts[starts == ends] = 0

    # A record that starts with a printable character other than a quote or
    # a delimiter has a value that is not blank, which settles most records
    # at the cost of one byte each.
    maybe_blank = ~_printable(buffer[starts], delimiter_byte)
    if maybe_blank.sum() > FULL_SCAN_CANDIDATES:
        printable = _printable(buffer, delimiter_byte)
        maybe_blank &= ~np.logical_or.reduceat(printable, starts)
    maybe_blank |= starts == ends

    return RecordLayout(
        starts=starts,
        ends=ends,
        field_counts=field_counts.astype(np.int64),
        maybe_blank=maybe_blank,
    )
