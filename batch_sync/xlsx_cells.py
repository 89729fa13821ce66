"""Decide the text that Excel shows for one stored cell, and when it cannot be trusted.

The stored type and number format of each cell decide whether the shown text
can be recovered with certainty. A SKU stored as text is taken as it is. A
SKU stored as a whole number is recovered only when its format makes Excel
show every digit (General up to 11 digits, ``0``, or a zero-padding format
such as ``000000``). Every other number, date, boolean or error value in the
SKU column is a problem on that row, because guessing its text could send a
different SKU than the one in the sheet. A formula cell counts as the value
Excel saved with it; a formula without a saved value is a problem on its row.
"""

from __future__ import annotations

import re

from batch_sync.xlsx_parts import Cell
from schemas.row import SKU_ID

# Excel keeps 15 significant digits, and the General format switches to
# scientific notation for whole numbers of more than 11 digits.
EXCEL_DIGITS = 15
GENERAL_MAX_DIGITS = 11

_ZERO_PADDING = re.compile(r"0+")
_WHOLE_NUMBER = re.compile(r"[0-9]+(\.0*)?")
# Parts of a number format that never change which value is shown: quoted
# text, escaped characters and bracketed colours or conditions.
_FORMAT_DECORATION = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_DATE_FORMAT_LETTERS = re.compile(r"[dmyhs]", re.IGNORECASE)
# A comma right after the last digit placeholder divides the shown number by
# 1,000 per comma, as in "#,##0," for thousands.
_SCALING_FORMAT = re.compile(r"[0#?],+(;|$)")

_TEXT_ADVICE = (
    "format the skuId column as Text, enter the id again (or export it as "
    "text), and save"
)


def date_format(number_format: str) -> bool:
    """Return whether a number format shows a number as a date or a time."""
    if number_format == "General":
        return False
    plain = _FORMAT_DECORATION.sub("", number_format)
    return bool(_DATE_FORMAT_LETTERS.search(plain))


def sku_text_from_number(stored: str, number_format: str) -> str | None:
    """Return the SKU that Excel shows for a stored number, or None if it is not certain."""
    if not _WHOLE_NUMBER.fullmatch(stored):
        return None
    digits = str(int(stored.split(".")[0]))
    if len(digits) > EXCEL_DIGITS:
        return None
    if number_format in ("General", "@"):
        return digits if len(digits) <= GENERAL_MAX_DIGITS else None
    if number_format == "0":
        return digits
    if _ZERO_PADDING.fullmatch(number_format):
        return digits.zfill(len(number_format))
    return None


def number_text(stored: str) -> str:
    """Return a stored number's text for a number column: ``3.0`` becomes ``3``."""
    try:
        value = float(stored)
    except ValueError:
        return stored
    if value.is_integer():
        return str(int(value))
    return repr(value)


def cell_text(column: str, cell: Cell | None) -> tuple[str, str | None]:
    """Return the cell's text and, if it cannot be taken as shown, the reason."""
    if cell is None:
        return "", None
    if cell.value is None:
        if cell.formula:
            return "", (
                f"{column} is a formula with no saved value; open the file in "
                "Excel, let it calculate, and save it"
            )
        return "", None

    kind = cell.kind
    if kind in ("s", "str", "inlineStr"):
        return cell.value, None
    if kind == "b":
        displayed = "TRUE" if cell.value == "1" else "FALSE"
        return (
            displayed,
            f"{column} contains the boolean {displayed}; enter the value as text",
        )
    if kind == "e":
        return cell.value, f"{column} shows the error {cell.value}; correct the cell"
    if kind == "d" or date_format(cell.number_format):
        return cell.value, (
            f"{column} contains a date, not a "
            f"{'SKU id' if column == SKU_ID else 'number'}; set the cell's format "
            "to General or Text and enter the value again"
        )
    if column != SKU_ID:
        plain_format = _FORMAT_DECORATION.sub("", cell.number_format)
        if "%" in plain_format or _SCALING_FORMAT.search(plain_format):
            return number_text(cell.value), (
                f"{column} is shown scaled (as a percentage or in thousands), so "
                "the sheet shows another number than the one stored; set the "
                "cell's format to General and check the value"
            )
        return number_text(cell.value), None

    recovered = sku_text_from_number(cell.value, cell.number_format)
    if recovered is not None:
        return recovered, None
    # The stored text is shown as it is, because a float such as 1.2345e+18
    # has no exact whole-number form that Excel would show.
    return cell.value, (
        f"skuId is stored as the number {cell.value} with format "
        f"'{cell.number_format}', so the id Excel shows may differ from the one "
        f"stored; {_TEXT_ADVICE}"
    )
