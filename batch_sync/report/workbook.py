"""Write the results workbook: a Summary sheet first, then Rows, then Verify.

The workbook is written with openpyxl's write-only mode, so the rows stream
to disk and memory does not grow with the file. Column widths of the Rows
sheet are measured on the first SAMPLE_LINES lines, because a write-only
sheet needs its widths before its first row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from batch_sync.report.files import atomic_open
from batch_sync.report.lines import neutralise
from batch_sync.report.tally import ReportTally
from schemas.report import DATE_COLUMNS, RESULT_COLUMNS, STATUS_COLOURS, VERIFY_COLUMNS

SAMPLE_LINES = 1000
MIN_WIDTH = 6
MAX_WIDTH = 60
DATE_FORMAT = "yyyy-mm-dd hh:mm:ss"
DATE_WIDTH = len("2026-12-04 16:15:00") + 2

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)
_FILLS = {
    status: PatternFill(start_color=colour, end_color=colour, fill_type="solid")
    for status, colour in STATUS_COLOURS.items()
}


def excel_time(text: Any) -> dt.datetime | None:
    """Parse an ISO 8601 time into a naive UTC datetime, which Excel can store.

    Returns None for a missing or unreadable time.
    """
    if not isinstance(text, str) or not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _text_width(value: Any) -> int:
    return len(str(value)) if value is not None else 0


class _Sheet:
    """Helpers shared by the sheets of the workbook."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet

    def cell(self, value: Any, *, bold: bool = False, number_format: str | None = None) -> WriteOnlyCell:
        cell = WriteOnlyCell(self.sheet, value=neutralise(value))
        if isinstance(cell.value, str):
            # openpyxl would store text that starts with = as a formula.
            cell.data_type = "s"
        if bold:
            cell.font = _BOLD
        if number_format:
            cell.number_format = number_format
        return cell

    def set_widths(self, widths: list[int]) -> None:
        for position, width in enumerate(widths, start=1):
            fitted = max(MIN_WIDTH, min(MAX_WIDTH, width + 2))
            self.sheet.column_dimensions[get_column_letter(position)].width = fitted


class RowsSheet(_Sheet):
    """The Rows sheet: one line per input row, with a frozen header and filters."""

    def __init__(self, sheet: Any) -> None:
        super().__init__(sheet)
        self._sample: list[dict[str, Any]] | None = []
        self._rows = 0

    def add(self, line: dict[str, Any]) -> None:
        if self._sample is not None:
            self._sample.append(line)
            if len(self._sample) >= SAMPLE_LINES:
                self._start()
            return
        self._append(line)

    def close(self) -> None:
        if self._sample is not None:
            self._start()
        last = get_column_letter(len(RESULT_COLUMNS))
        self.sheet.auto_filter.ref = f"A1:{last}{self._rows + 1}"

    def _start(self) -> None:
        sample = self._sample or []
        self._sample = None
        widths = []
        for name in RESULT_COLUMNS:
            if name in DATE_COLUMNS:
                widths.append(max(len(name), DATE_WIDTH))
                continue
            widths.append(max([len(name)] + [_text_width(line.get(name)) for line in sample]))
        self.set_widths(widths)
        self.sheet.freeze_panes = "A2"
        self.sheet.append([self.cell(name, bold=True) for name in RESULT_COLUMNS])
        for line in sample:
            self._append(line)

    def _append(self, line: dict[str, Any]) -> None:
        cells = []
        for name in RESULT_COLUMNS:
            value = line.get(name)
            if name in DATE_COLUMNS:
                cells.append(self.cell(excel_time(value), number_format=DATE_FORMAT))
                continue
            cell = self.cell(value)
            if name == "status":
                cell.fill = _FILLS[value]
            cells.append(cell)
        self.sheet.append(cells)
        self._rows += 1


class SummarySheet(_Sheet):
    """The Summary sheet: run facts, counts, units per warehouse and top errors."""

    def __init__(self, sheet: Any) -> None:
        super().__init__(sheet)
        # Widths must be set before the first row. The first column contains
        # labels and error texts. Longer texts are cut off on screen only.
        self.set_widths([70, 16, 12, 12, 18, 20])
        # Print on one page width, landscape, so the units table stays whole.
        self.sheet.page_setup.orientation = "landscape"
        self.sheet.page_setup.fitToWidth = 1
        self.sheet.page_setup.fitToHeight = 0
        self.sheet.sheet_properties.pageSetUpPr.fitToPage = True

    def title(self, text: str) -> None:
        cell = self.cell(text)
        cell.font = _TITLE
        self.sheet.append([cell])

    def section(self, *headings: str) -> None:
        self.sheet.append([])
        self.sheet.append([self.cell(heading, bold=True) for heading in headings])

    def row(self, *values: Any) -> None:
        cells = []
        for value in values:
            if isinstance(value, dt.datetime):
                cells.append(self.cell(value, number_format=DATE_FORMAT))
            else:
                cells.append(self.cell(value))
        self.sheet.append(cells)


def write_summary_sheet(sheet: SummarySheet, summary: dict[str, Any], tally: ReportTally) -> None:
    """Fill the Summary sheet from the JSON summary and the tally."""
    sheet.title("batch-sync reconciliation report")
    sheet.row("Input file", summary["inputFile"])
    if summary.get("sheet"):
        sheet.row("Sheet", summary["sheet"])
    sheet.row("Started (UTC)", excel_time(summary["startedAt"]))
    sheet.row("Finished (UTC)", excel_time(summary["finishedAt"]))
    sheet.row("Time taken (s)", summary["durationSeconds"])
    sheet.row("Dry run", "yes" if summary["dryRun"] else "no")
    sheet.row("Exit status", summary["exitStatus"])
    if summary.get("stopReason"):
        sheet.row("Stopped because", summary["stopReason"])

    sheet.section("Rows by status", "rows")
    sheet.row("rows read", summary["rowsRead"])
    for status, count in tally.status_counts().items():
        sheet.row(status, count)

    sheet.section("Warnings", "rows")
    for name, count in tally.warning_counts().items():
        sheet.row(name, count)
    sheet.row("returned orders (total)", summary["returnedOrders"])
    sheet.row("hidden rows (read; see notes)", summary["hiddenRows"])

    sheet.section("Units per warehouse", "inventoryType", "rows sent", "units sent", "rows acknowledged", "units acknowledged")
    for warehouse, kind, totals in tally.unit_rows():
        sheet.row(
            f"warehouse {warehouse}",
            kind,
            totals.rows_sent,
            totals.units_sent,
            totals.rows_acknowledged,
            totals.units_acknowledged,
        )

    sheet.section("Most common errors", "rows")
    for text, count in tally.top_errors():
        sheet.row(text, count)

    verify = summary.get("verify")
    if verify:
        sheet.section("Check against e-CROSS", "")
        sheet.row("mode", verify["mode"])
        if verify.get("error"):
            sheet.row("check failed", verify["error"])
        sheet.row("records read from e-CROSS", verify["recordsRead"])
        sheet.row("rows checked", verify["rowsChecked"])
        sheet.row("quantity differs", verify["quantityDiffers"])
        sheet.row("missing in e-CROSS", verify["missingInEcross"])
        if verify["mode"] == "all":
            sheet.row("in e-CROSS, not in the file", verify["notInFile"])

    sheet.section("Report files", "")
    for name, path in summary["reports"].items():
        if path:
            sheet.row(name, path)


def write_verify_sheet(sheet: _Sheet, findings: list[dict[str, Any]]) -> None:
    """Fill the Verify sheet with one line per finding."""
    widths = [len(name) for name in VERIFY_COLUMNS]
    for finding in findings[:SAMPLE_LINES]:
        for position, name in enumerate(VERIFY_COLUMNS):
            widths[position] = max(widths[position], _text_width(finding.get(name)))
    sheet.set_widths(widths)
    sheet.sheet.freeze_panes = "A2"
    sheet.sheet.append([sheet.cell(name, bold=True) for name in VERIFY_COLUMNS])
    for finding in findings:
        cells = []
        for name in VERIFY_COLUMNS:
            if name == "lastUpdateDate":
                cells.append(sheet.cell(excel_time(finding.get(name)), number_format=DATE_FORMAT))
            else:
                cells.append(sheet.cell(finding.get(name)))
        sheet.sheet.append(cells)
    last = get_column_letter(len(VERIFY_COLUMNS))
    sheet.sheet.auto_filter.ref = f"A1:{last}{len(findings) + 1}"


class ResultsWorkbook:
    """The results workbook of one run, built while the result lines stream past."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._workbook = Workbook(write_only=True)
        # Sheets appear in the order they are created.
        self._summary = SummarySheet(self._workbook.create_sheet("Summary"))
        self._rows = RowsSheet(self._workbook.create_sheet("Rows"))

    def add(self, line: dict[str, Any]) -> None:
        self._rows.add(line)

    def save(
        self,
        summary: dict[str, Any],
        tally: ReportTally,
        findings: list[dict[str, Any]] | None,
    ) -> None:
        """Write the Summary sheet and, if verification ran, the Verify sheet; then save."""
        self._rows.close()
        write_summary_sheet(self._summary, summary, tally)
        if findings is not None:
            write_verify_sheet(_Sheet(self._workbook.create_sheet("Verify")), findings)
        with atomic_open(self._path, "wb") as handle:
            self._workbook.save(handle)
