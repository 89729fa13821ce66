"""Files the job cannot use: each stops the run with exit status 2 before anything is sent."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook

from batch_sync.errors import InputError
from batch_sync.load import load_table
from tests.conftest import TEST_TOKEN, Sandbox, run_cli, start_sandbox
from tests.workbooks import HEADER, write_workbook

HEADER_LINE = ",".join(HEADER)


def empty_csv(path: Path) -> Path:
    path = path / "empty.csv"
    path.write_bytes(b"")
    return path


def blank_lines_csv(path: Path) -> Path:
    path = path / "blank.csv"
    path.write_bytes(b"\r\n \r\n")
    return path


def header_only_csv(path: Path) -> Path:
    path = path / "header.csv"
    path.write_text(HEADER_LINE + "\n")
    return path


def header_only_xlsx(path: Path) -> Path:
    path = path / "header.xlsx"
    write_workbook(path, [HEADER])
    return path


def empty_xlsx(path: Path) -> Path:
    path = path / "empty.xlsx"
    path.write_bytes(b"")
    return path


def workbook_named_csv(path: Path) -> Path:
    source = path / "book.xlsx"
    write_workbook(source, [HEADER, ["A", 1, 1, "AVAILABLE"]])
    target = path / "stock.csv"
    target.write_bytes(source.read_bytes())
    return target


def text_named_xlsx(path: Path) -> Path:
    path = path / "stock.xlsx"
    path.write_text(f"{HEADER_LINE}\nA,1,1,AVAILABLE\n")
    return path


def password_protected_xlsx(path: Path) -> Path:
    # An encrypted workbook is a compound file; its first 8 bytes are enough.
    path = path / "locked.xlsx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return path


def legacy_xls(path: Path) -> Path:
    path = path / "stock.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    return path


def test_xlsx_named_xls_is_read(tmp_path: Path) -> None:
    path = tmp_path / "stock.xls"
    write_workbook(path, [HEADER, ["000123", 4, 1, "AVAILABLE"]])

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["000123"]


def test_xlsx_named_xls_gets_xlsx_to_fix_file(tmp_path: Path) -> None:
    path = tmp_path / "stock.xls"
    write_workbook(path, [HEADER, ["000123", 4, 1, "AVAILABLE"], ["B-2", -1, 1, "AVAILABLE"]])
    reports = tmp_path / "reports"

    result = run_cli("sync", str(path), "--dry-run", "--report-dir", str(reports))

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    (to_fix,) = reports.glob("stock-*-to-fix.xlsx")
    assert "B-2" in [row[0] for row in load_workbook(to_fix).active.iter_rows(values_only=True)]
    assert len(list(reports.glob("stock-*-summary.json"))) == 1


def ods(path: Path) -> Path:
    path = path / "stock.ods"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
    return path


def ods_named_xlsx(path: Path) -> Path:
    path = path / "stock.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")
    return path


def zip_without_workbook(path: Path) -> Path:
    path = path / "stock.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return path


def missing_column_xlsx(path: Path) -> Path:
    path = path / "columns.xlsx"
    write_workbook(path, [["skuId", "quantity"], ["A", 1]])
    return path


def unknown_suffix(path: Path) -> Path:
    path = path / "stock.json"
    path.write_text("[]")
    return path


def pdf_named_csv(path: Path) -> Path:
    path = path / "stock.csv"
    path.write_bytes(b"%PDF-1.7\n...")
    return path


UNUSABLE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty-csv": (empty_csv, "the file is empty"),
    "blank-lines-csv": (blank_lines_csv, "the file is empty"),
    "header-only-csv": (header_only_csv, "header row but no data rows"),
    "header-only-xlsx": (header_only_xlsx, "header row but no data rows"),
    "empty-xlsx": (empty_xlsx, "the file is empty"),
    "workbook-named-csv": (workbook_named_csv, "save it as .xlsx"),
    "text-named-xlsx": (text_named_xlsx, "not an .xlsx workbook"),
    "password-protected": (password_protected_xlsx, "password-protected"),
    "legacy-xls": (legacy_xls, "legacy Excel format"),
    "ods": (ods, "OpenDocument spreadsheet"),
    "ods-named-xlsx": (ods_named_xlsx, "OpenDocument spreadsheet"),
    "zip-without-workbook": (zip_without_workbook, "damaged or incomplete"),
    "missing-column": (
        missing_column_xlsx,
        "missing required column(s) warehouseId, inventoryType",
    ),
    "unknown-suffix": (unknown_suffix, "unknown file type '.json'"),
    "pdf-named-csv": (pdf_named_csv, "PDF document"),
}


@pytest.mark.parametrize("case", UNUSABLE, ids=list(UNUSABLE))
def test_unusable_file_raises(tmp_path: Path, case: str) -> None:
    build, message = UNUSABLE[case]
    path = build(tmp_path)

    with pytest.raises(InputError) as error:
        load_table(path)

    assert message in str(error.value)
    assert str(path) in str(error.value)


@pytest.fixture(scope="module")
def shared_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path_factory.mktemp("sandbox"))
    yield running
    running.stop()


@pytest.mark.parametrize("case", UNUSABLE, ids=list(UNUSABLE))
def test_unusable_file_exits_two(
    shared_sandbox: Sandbox, tmp_path: Path, case: str
) -> None:
    build, message = UNUSABLE[case]
    path = build(tmp_path)
    sent_before = len(shared_sandbox.received())

    result = run_cli(
        "sync",
        str(path),
        "--base-url",
        shared_sandbox.url,
        "--report-dir",
        str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert len(shared_sandbox.received()) == sent_before


def test_file_over_size_limit_exits_two(
    shared_sandbox: Sandbox, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    path.write_text(HEADER_LINE + "\n" + "A-1,1,1,AVAILABLE\n" * 100_000)
    sent_before = len(shared_sandbox.received())

    result = run_cli(
        "sync",
        str(path),
        "--max-file-size",
        "1",
        "--base-url",
        shared_sandbox.url,
        "--report-dir",
        str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 2
    assert "more than the limit of 1 MB" in result.stderr
    assert len(shared_sandbox.received()) == sent_before
