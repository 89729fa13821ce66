"""Property tests: tricky SKU strings come back byte for byte from every supported file kind."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pandas as pd
from openpyxl import Workbook

from batch_sync import csv_reader
from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.table import DEFAULT_HEADER_SPEC, map_header
from tests.workbooks import HEADER

# Characters that damage ids in real exports: digits (leading zeros, long
# runs), spaces, separators, quotes and accented letters.
_COMMON = "0123456789AZaz -_.,;|\t\"'/#+=éüñßøÅ"
# In Windows-1252 these letters are bytes 0xC0 to 0xFF, which can start a
# UTF-8 sequence but never continue one, so a cp1252 file of them never
# decodes as UTF-8 by chance.
# NOTE: a cp1252 file whose bytes happen to form valid UTF-8 (such as "Ã©")
# is read as UTF-8, so the cp1252 alphabet leaves out 0x80 to 0xBF.
CP1252_ALPHABET = _COMMON
UNICODE_ALPHABET = _COMMON + "€Ž中\n\r"
XLSX_ALPHABET = _COMMON + "€Ž中\n"

# Excel writes a literal "_x0041_" as "_x005F_x0041_"; openpyxl does not, so
# such strings are left out of the .xlsx round trip.
_EXCEL_ESCAPE = re.compile(r"_x[0-9A-Fa-f]{4}_")

DIALECTS = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from([",", ";", "\t", "|"]),
        "encoding": st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "cp1252"]),
        "lineterminator": st.sampled_from(["\r\n", "\n"]),
        "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    }
)


def sku_lists(alphabet: str) -> st.SearchStrategy[list[str]]:
    return st.lists(
        st.text(alphabet=alphabet, min_size=1, max_size=25), min_size=1, max_size=8
    )


def write_csv(path: Path, skus: list[str], dialect: dict) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(
        buffer,
        delimiter=dialect["delimiter"],
        lineterminator=dialect["lineterminator"],
        quoting=dialect["quoting"],
    )
    writer.writerow(HEADER)
    for sku in skus:
        writer.writerow([sku, "1", "1", "AVAILABLE"])
    path.write_bytes(buffer.getvalue().encode(dialect["encoding"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dialect=DIALECTS, data=st.data())
def test_csv_round_trip(dialect: dict, data: st.DataObject) -> None:
    alphabet = CP1252_ALPHABET if dialect["encoding"] == "cp1252" else UNICODE_ALPHABET
    if dialect["lineterminator"] == "\n":
        # Python's csv writer quotes a lone "\r" only when it is part of the
        # line terminator, and an unquoted "\r" is a line break to any reader.
        alphabet = alphabet.replace("\r", "")
    skus = data.draw(sku_lists(alphabet))
    suffix = ".tsv" if dialect["delimiter"] == "\t" else ".csv"

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"stock{suffix}"
        write_csv(path, skus, dialect)
        table = load_table(path)

    assert list(table.frame["skuId"]) == skus
    assert table.cell_problems == []
    assert table.delimiter == dialect["delimiter"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    skus=sku_lists(XLSX_ALPHABET).filter(
        lambda skus: not any(_EXCEL_ESCAPE.search(sku) for sku in skus)
    )
)
def test_xlsx_round_trip(skus: list[str]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(HEADER)
    for row, sku in enumerate(skus, start=2):
        cell = sheet.cell(row=row, column=1, value=sku)
        # Text that starts with "=" stays text, as when typed into a Text cell.
        cell.data_type = "s"
        sheet.cell(row=row, column=2, value=1)
        sheet.cell(row=row, column=3, value=1)
        sheet.cell(row=row, column=4, value="AVAILABLE")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stock.xlsx"
        workbook.save(path)
        table = load_table(path)

    assert list(table.frame["skuId"]) == skus
    assert table.cell_problems == []


_PLAIN_FIELD = st.text(alphabet="a1 Ž\t", max_size=4)
_QUOTED_FIELD = st.text(alphabet='a1 ,"\r\n', max_size=4).map(
    lambda value: '"' + value.replace('"', '""') + '"'
)
_RECORD = st.lists(st.one_of(_PLAIN_FIELD, _QUOTED_FIELD), max_size=6).map(",".join)
_TERMINATOR = st.sampled_from(["\n", "\r\n", "\r"])
# Records of plain and quoted fields with ragged lengths, blank records and
# every line terminator, or raw text with stray quotes.
RAW_CSV_BODY = st.one_of(
    st.lists(st.tuples(_RECORD, _TERMINATOR), min_size=2, max_size=8).map(
        lambda records: "".join(record + end for record, end in records)
    ),
    st.text(alphabet='a1 ,"\r\n\tŽ', max_size=60),
)


@settings(max_examples=300, deadline=None)
@given(body=RAW_CSV_BODY)
def test_fast_csv_reader_matches_csv_module(body: str) -> None:
    text = "skuId,quantity,warehouseId,inventoryType\n" + body
    spec = DEFAULT_HEADER_SPEC
    header_map = map_header(text.split("\n")[0].split(","), "stock.csv", spec)
    path = Path("stock.csv")

    try:
        exact = csv_reader._read_records(path, text, ",", 1, header_map, 4)
    except (csv.Error, InputError):
        exact = None
    try:
        fast = csv_reader._read_records_fast(
            path, text.encode(), text, "utf-8", ",", 1, header_map, 4
        )
    except InputError:
        fast = None

    if fast is None:
        return
    assert exact is not None
    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert fast.cell_problems == exact.cell_problems
    assert fast.blank_rows == exact.blank_rows
