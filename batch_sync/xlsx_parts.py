"""Read the parts of an .xlsx package that the reader needs, streaming the sheet XML.

An .xlsx file is a zip archive of XML parts (ECMA-376 Part 1). The workbook
part lists the sheets, the shared-strings part contains the text of text
cells, the styles part maps each cell's style index to a number format, and
each sheet part contains the rows. Parsing these parts directly gives what
the reader needs (stored types, cached formula values, number formats and
hidden rows) in one pass, without building openpyxl's cell objects. A sheet
is parsed with ``iterparse`` and every row is cleared once read, so memory
stays flat however many styled but empty rows the sheet has.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from xml.etree.ElementTree import Element, ParseError, iterparse

from batch_sync.errors import InputError

_RELATIONSHIP_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)

# Number formats that Excel defines without writing them into the file
# (ISO/IEC 29500-1, 18.8.30 numFmt). Only the ones the reader must recognise are here:
# the plain ones it can show exactly, and the dates.
BUILTIN_FORMATS = {
    0: "General",
    1: "0",
    2: "0.00",
    3: "#,##0",
    4: "#,##0.00",
    9: "0%",
    10: "0.00%",
    11: "0.00E+00",
    12: "# ?/?",
    13: "# ??/??",
    14: "mm-dd-yy",
    15: "d-mmm-yy",
    16: "d-mmm",
    17: "mmm-yy",
    18: "h:mm AM/PM",
    19: "h:mm:ss AM/PM",
    20: "h:mm",
    21: "h:mm:ss",
    22: "m/d/yy h:mm",
    45: "mm:ss",
    46: "[h]:mm:ss",
    47: "mmss.0",
    48: "##0.0E+0",
    49: "@",
}
# IDs 27 to 36 and 50 to 58 are East Asian date formats whose code depends
# on the language of Excel; any date code makes the reader treat them as dates.
BUILTIN_FORMATS.update({format_id: "yyyy-mm-dd" for format_id in range(27, 37)})
BUILTIN_FORMATS.update({format_id: "yyyy-mm-dd" for format_id in range(50, 59)})

# Excel escapes characters that XML cannot hold as _xHHHH_ in cell text.
_ESCAPED_CHARACTER = re.compile(r"_x([0-9A-Fa-f]{4})_")
_CELL_REFERENCE = re.compile(r"([A-Z]+)([0-9]*)")


@dataclass(frozen=True)
class SheetInfo:
    """One sheet as the workbook part lists it."""

    name: str
    state: str
    part: str


@dataclass(frozen=True)
class Cell:
    """One cell's stored content.

    ``kind`` is the cell type attribute (``n``, ``s``, ``str``, ``inlineStr``,
    ``b``, ``e`` or ``d``). ``value`` is the stored text (for a shared string,
    the string itself), or None when the cell stores no value, as a formula
    that was never calculated does.
    """

    kind: str
    value: str | None
    number_format: str
    formula: bool


@dataclass
class Row:
    """One ``<row>`` element: its sheet row number, hidden flag and cells by column."""

    number: int
    hidden: bool
    cells: dict[int, Cell] = field(default_factory=dict)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def unescape(text: str) -> str:
    """Replace Excel's ``_xHHHH_`` escapes with the characters they stand for."""
    if "_x" not in text:
        return text
    return _ESCAPED_CHARACTER.sub(lambda match: chr(int(match.group(1), 16)), text)


def column_index(letters: str) -> int:
    """Return the zero-based index of a column name such as ``A`` or ``AB``."""
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


class Package:
    """An open .xlsx package; use it as a context manager to close the archive."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.archive = zipfile.ZipFile(path)
        self.workbook_part = self._workbook_part()
        self.sheets = self._read_sheets()
        self.shared_strings = self._read_shared_strings()
        self.formats = self._read_formats()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.archive.close()

    def _iterparse(self, part: str, events: tuple[str, ...] = ("end",)):
        return iterparse(self.archive.open(part), events=events)

    def _relationships(self, part: str) -> dict[str, str]:
        """Return the targets of a part's relationships by id, as archive paths."""
        folder, name = posixpath.split(part)
        rels = posixpath.join(folder, "_rels", f"{name}.rels")
        if rels not in self.archive.NameToInfo:
            return {}
        targets = {}
        for _, element in self._iterparse(rels):
            if _local(element.tag) == "Relationship":
                target = element.get("Target", "")
                if target.startswith("/"):
                    path = target.lstrip("/")
                else:
                    path = posixpath.normpath(posixpath.join(folder, target))
                targets[element.get("Id", "")] = path
        return targets

    def _workbook_part(self) -> str:
        """Return the workbook part that the package relationships name."""
        for target in self._relationships("").values():
            name = posixpath.basename(target)
            if "workbook" in name and target in self.archive.NameToInfo:
                return target
        if "xl/workbook.xml" in self.archive.NameToInfo:
            return "xl/workbook.xml"
        raise KeyError("the archive has no workbook part")

    def _read_sheets(self) -> list[SheetInfo]:
        targets = self._relationships(self.workbook_part)
        sheets = []
        for _, element in self._iterparse(self.workbook_part):
            if _local(element.tag) != "sheet":
                continue
            relation = next(
                (
                    element.get(f"{{{ns}}}id")
                    for ns in _RELATIONSHIP_NS
                    if element.get(f"{{{ns}}}id")
                ),
                None,
            )
            part = targets.get(relation or "")
            if part is None:
                continue
            sheets.append(
                SheetInfo(
                    name=element.get("name", ""),
                    state=element.get("state", "visible"),
                    part=part,
                )
            )
        return sheets

    def _part_of_type(self, suffix: str) -> str | None:
        for target in self._relationships(self.workbook_part).values():
            if target.endswith(suffix) and target in self.archive.NameToInfo:
                return target
        return None

    def _read_shared_strings(self) -> list[str]:
        # NOTE: the whole table is kept in memory, and --max-file-size limits
        # only the compressed file, so a zip bomb of strings is not bounded.
        part = self._part_of_type("sharedStrings.xml")
        if part is None:
            return []
        strings = []
        for _, element in self._iterparse(part):
            if _local(element.tag) == "si":
                strings.append(unescape(_item_text(element)))
                element.clear()
        return strings

    def _read_formats(self) -> list[str]:
        """Return the number format of each cell style, by style index."""
        part = self._part_of_type("styles.xml")
        if part is None:
            return ["General"]
        custom: dict[int, str] = {}
        formats: list[str] = []
        in_cell_styles = False
        for event, element in self._iterparse(part, ("start", "end")):
            tag = _local(element.tag)
            if tag == "cellXfs":
                in_cell_styles = event == "start"
            elif event == "end" and tag == "numFmt":
                custom[int(element.get("numFmtId", "0"))] = element.get(
                    "formatCode", ""
                )
            elif event == "end" and tag == "xf" and in_cell_styles:
                format_id = int(element.get("numFmtId", "0"))
                formats.append(
                    custom.get(format_id)
                    or BUILTIN_FORMATS.get(format_id, f"#{format_id}")
                )
        return formats or ["General"]

    def iter_rows(self, part: str, columns: set[int] | None = None) -> Iterator[Row]:
        """Yield the sheet's rows in order; read only ``columns`` if given."""
        sheet_data: Element | None = None
        row_number = 0
        namespace = None
        # Tags are compared in full, with the namespace of the root element,
        # because this loop runs for every element of the sheet.
        for event, element in self._iterparse(part, ("start", "end")):
            if namespace is None:
                namespace = element.tag[: element.tag.find("}") + 1]
                row_tag = f"{namespace}row"
                sheet_data_tag = f"{namespace}sheetData"
            if event == "start":
                if element.tag == sheet_data_tag:
                    sheet_data = element
                continue
            if element.tag != row_tag:
                continue
            row_number = int(element.get("r") or row_number + 1)
            hidden = element.get("hidden") in ("1", "true")
            yield Row(row_number, hidden, self._row_cells(element, columns, namespace))
            element.clear()
            if sheet_data is not None:
                sheet_data.clear()

    def _row_cells(
        self, row: Element, columns: set[int] | None, namespace: str
    ) -> dict[int, Cell]:
        cells: dict[int, Cell] = {}
        position = -1
        for cell in row:
            reference = cell.get("r")
            if reference:
                match = _CELL_REFERENCE.match(reference)
                position = column_index(match.group(1)) if match else position + 1
            else:
                position += 1
            if columns is not None and position not in columns:
                continue
            cells[position] = self._cell(cell, namespace)
        return cells

    def _cell(self, cell: Element, namespace: str) -> Cell:
        kind = cell.get("t", "n")
        style = int(cell.get("s", "0"))
        number_format = self.formats[style] if style < len(self.formats) else "General"
        value = None
        formula = False
        for child in cell:
            tag = child.tag[len(namespace) :]
            if tag == "v":
                value = child.text or ""
            elif tag == "f":
                formula = True
            elif tag == "is":
                value = unescape(_item_text(child))
        return Cell(
            kind, stored_value(kind, value, self.shared_strings), number_format, formula
        )


def stored_value(kind: str, text: str | None, shared_strings: list[str]) -> str | None:
    """Return a cell's stored value from the text of its ``<v>`` or ``<is>`` element.

    ``text`` is None when the cell has neither element.
    """
    if text == "" and kind not in ("str", "inlineStr"):
        # An empty <v/>, as openpyxl writes for every formula: no saved value.
        return None
    if kind == "s" and text is not None:
        return shared_strings[int(text)]
    if kind == "str" and text is not None:
        return unescape(text)
    return text


def _item_text(item: Element) -> str:
    """Join the text runs of a string item, leaving out phonetic (ruby) text."""
    parts = []
    for child in item:
        tag = _local(child.tag)
        if tag == "t":
            parts.append(child.text or "")
        elif tag == "r":
            parts.extend(run.text or "" for run in child if _local(run.tag) == "t")
    return "".join(parts)


def open_package(path: Path) -> Package:
    """Open an .xlsx package, raising InputError if the file is not one."""
    try:
        return Package(path)
    except zipfile.BadZipFile as error:
        raise InputError(
            f"{path}: the file is not an .xlsx workbook (it is not a zip "
            "archive); open it in Excel and save it again as .xlsx"
        ) from error
    except PermissionError:
        raise
    except (
        LookupError,
        ValueError,
        ParseError,
        zlib.error,
        EOFError,
        NotImplementedError,
        RuntimeError,
        # A damaged archive can give a member a negative offset, and seek fails.
        OSError,
    ) as error:
        raise InputError(
            f"{path}: the workbook is damaged or incomplete ({error}); open it "
            "in Excel and save it again as .xlsx"
        ) from error
