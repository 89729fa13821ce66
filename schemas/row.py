"""The spreadsheet row schema: required columns and the rule for each value.

The schema validates text, exactly as the sheet shows it, because a value is
sent only if it is what the user sees. Each check covers one kind of mistake
and passes every value that is not of its kind, so an invalid value fails
exactly one check and gets one reason. The check's ``error`` text is that
reason, written for the ops staff who fix the sheet.
"""

from __future__ import annotations

import re

import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc

SKU_ID = "skuId"
QUANTITY = "quantity"
WAREHOUSE_ID = "warehouseId"
INVENTORY_TYPE = "inventoryType"

REQUIRED_COLUMNS = (SKU_ID, QUANTITY, WAREHOUSE_ID, INVENTORY_TYPE)

INVENTORY_TYPES = ("AVAILABLE", "DAMAGED")

# NOTE: the e-CROSS docs give no upper bound for quantity or warehouseId.
# A signed 32-bit integer is assumed, the usual range of an integer field.
MAX_WHOLE_NUMBER = 2_147_483_647

# Excel writes ids that it took for numbers as, for example, 1.23457E+09.
SCIENTIFIC_NOTATION = re.compile(r"[0-9]+(\.[0-9]+)?[eE][+\-]?[0-9]+")

# A whole number with a ".0" tail, such as 20099.0: what a program writes for
# an id column it read as decimal numbers, because one cell was blank.
DECIMAL_TAIL = re.compile(r"[0-9]+\.0+")

_WHOLE = r"[0-9]+(\.0+)?"


def _has_invisible_character(values: pd.Series) -> pd.Series:
    """Return which values contain a character that is not printable.

    That covers line breaks, tabs and other control characters, and the
    no-break, zero-width and other spaces apart from the plain one, which a
    cell gets from a pasted value but no id contains. pyarrow's check takes
    about a third of the time of a regular expression over 1,000,000 values.
    """
    not_printable = pc.invert(pc.utf8_is_printable(pyarrow.array(values.array, type=pyarrow.large_string())))
    flags = pc.fill_null(not_printable, False).to_numpy(zero_copy_only=False)
    return pd.Series(flags, index=values.index)


def header_key(header: str) -> str:
    """Return the form of a header used for matching: no case, spaces, _ or -.

    ``" SKU ID "``, ``"sku_id"`` and ``"skuId"`` all become ``"skuid"``.
    """
    return re.sub(r"[\s_\-]+", "", header).casefold()


def _blank(values: pd.Series) -> pd.Series:
    return values.isna() | (values.str.strip() == "")


def _matches(values: pd.Series, pattern: str) -> pd.Series:
    return values.str.strip().str.fullmatch(pattern).fillna(False).astype(bool)


def _too_large(values: pd.Series) -> pd.Series:
    # Only a whole number of 10 or more characters can exceed the maximum,
    # so the slower digit parsing runs on those few values alone.
    stripped = values.str.strip()
    long_whole = _matches(values, _WHOLE) & (stripped.str.len() > 9)
    too_large = pd.Series(False, index=values.index)
    if not long_whole.any():
        return too_large
    digits = stripped[long_whole].str.replace(r"\..*$", "", regex=True)
    too_large[long_whole] = (digits.str.lstrip("0").str.len() > 9) & (
        pd.to_numeric(digits, errors="coerce") > MAX_WHOLE_NUMBER
    )
    return too_large


def _whole_number_checks(column: str, minimum: int) -> list[pa.Check]:
    """Checks for a whole-number column whose smallest allowed value is ``minimum``."""
    checks = [
        pa.Check(
            lambda s: ~_blank(s),
            error=f"{column} is blank; enter a whole number",
        ),
        pa.Check(
            # "-0" is zero, not negative: only a nonzero digit makes a value negative.
            lambda s: ~_matches(s, r"-[0-9.]*[1-9][0-9.]*([eE][+\-]?[0-9]+)?"),
            error=f"{column} is negative; enter a whole number of {minimum} or more",
        ),
        pa.Check(
            lambda s: ~_matches(s, r"[0-9]*\.[0-9]*[1-9][0-9]*"),
            error=f"{column} has a fraction; enter a whole number",
        ),
        pa.Check(
            lambda s: ~_matches(s, SCIENTIFIC_NOTATION.pattern),
            error=(
                f"{column} is in scientific notation; enter the whole number "
                "without an exponent"
            ),
        ),
        pa.Check(
            lambda s: _blank(s)
            | _matches(s, r"-?[0-9]*\.?[0-9]+([eE][+\-]?[0-9]+)?"),
            error=f"{column} is not a number; enter a whole number",
        ),
        pa.Check(
            lambda s: ~_too_large(s),
            error=f"{column} is larger than {MAX_WHOLE_NUMBER:,}; check the value",
        ),
    ]
    if minimum > 0:
        checks.append(
            pa.Check(
                lambda s: ~_matches(s, r"-?(0+|0*\.0+)"),
                error=f"{column} is 0; enter a whole number of {minimum} or more",
            )
        )
    return checks


SKU_ID_CHECKS = [
    pa.Check(lambda s: ~_blank(s), error="skuId is blank; enter the SKU id"),
    pa.Check(
        lambda s: ~s.str.fullmatch(SCIENTIFIC_NOTATION.pattern).fillna(False).astype(bool),
        error=(
            "skuId is in scientific notation, so Excel has already lost its "
            "digits; format the column as Text in the source system's export "
            "and export again"
        ),
    ),
    pa.Check(
        lambda s: ~s.str.fullmatch(DECIMAL_TAIL.pattern).fillna(False).astype(bool),
        error=(
            "skuId looks like an id that a program turned into a decimal number "
            "(it ends in .0); export the column as text and check the id"
        ),
    ),
    pa.Check(
        lambda s: _blank(s) | (s.str.strip() == s).fillna(True).astype(bool),
        error=(
            "skuId starts or ends with a space, tab or line break; remove it if "
            "it is not part of the id"
        ),
    ),
    pa.Check(
        # Only values without spaces at their ends, so a padded id gets the reason above alone.
        lambda s: _blank(s)
        | (s.str.strip() != s).fillna(True).astype(bool)
        | ~_has_invisible_character(s),
        error=(
            "skuId has a line break, tab, no-break space or other invisible "
            "character inside it; remove it, as no SKU contains one"
        ),
    ),
]

INVENTORY_TYPE_CHECKS = [
    pa.Check(
        lambda s: ~_blank(s),
        error="inventoryType is blank; enter AVAILABLE or DAMAGED",
    ),
    pa.Check(
        lambda s: _blank(s) | s.str.strip().str.upper().isin(INVENTORY_TYPES),
        error="inventoryType is not AVAILABLE or DAMAGED; enter one of them",
    ),
]

# One sheet row, as text, before it becomes an API request. Columns other
# than the four required ones are allowed and ignored.
InventoryRowSchema = pa.DataFrameSchema(
    {
        SKU_ID: pa.Column(str, nullable=True, checks=SKU_ID_CHECKS),
        QUANTITY: pa.Column(str, nullable=True, checks=_whole_number_checks(QUANTITY, 0)),
        WAREHOUSE_ID: pa.Column(str, nullable=True, checks=_whole_number_checks(WAREHOUSE_ID, 1)),
        INVENTORY_TYPE: pa.Column(str, nullable=True, checks=INVENTORY_TYPE_CHECKS),
    },
    name="inventory row",
    strict=False,
    coerce=False,
)


def to_whole_numbers(values: pd.Series) -> pd.Series:
    """Convert values that passed the whole-number checks to int64, such as ``3.0`` to 3."""
    stripped = values.str.strip()
    if stripped.str.contains(".", regex=False).any():
        # ".0" and "-.0" are zero too: give them a leading 0 before the tail goes.
        stripped = stripped.str.replace(r"^(-?)\.", r"\g<1>0.", regex=True)
        stripped = stripped.str.replace(r"\.0*$", "", regex=True)

    # pyarrow's cast parses 1,000,000 numbers about eight times faster than
    # pandas' astype on the same text.
    numbers = pc.cast(pyarrow.array(stripped.array, type=pyarrow.large_string()), pyarrow.int64())
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=values.index, name=values.name)


def to_inventory_types(values: pd.Series) -> pd.Series:
    """Convert values that passed the inventoryType checks to their API form.

    Case and surrounding spaces are ignored (``" damaged"`` is ``DAMAGED``),
    because the two values cannot be confused once upper-cased.
    """
    return values.str.strip().str.upper()
