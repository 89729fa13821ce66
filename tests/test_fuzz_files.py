"""Fuzz the loader with mutated files: no crash, and nothing sent from an unreadable file."""

from __future__ import annotations

import io
import random
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.validate import validate_table
from tests.conftest import TEST_TOKEN, Sandbox, run_cli
from tests.workbooks import HEADER, write_workbook

ROWS = [
    HEADER,
    ["000123", 3, 1, "AVAILABLE"],
    ["0614", "=1+2", 1, "DAMAGED"],
    ["NA", 5.0, 2, "available"],
]


def valid_csv() -> bytes:
    lines = [",".join(str(value) for value in row) for row in ROWS]
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


def valid_xlsx() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stock.xlsx"
        write_workbook(path, ROWS)
        return path.read_bytes()


CSV_BYTES = valid_csv()
XLSX_BYTES = valid_xlsx()


def rebuild_zip(
    data: bytes, change: Callable[[list[tuple[str, bytes]]], list[tuple[str, bytes]]]
) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = [(info.filename, archive.read(info)) for info in archive.infolist()]
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in change(members):
            archive.writestr(name, content)
    return output.getvalue()


def mutate(data: bytes, is_zip: bool, rng: random.Random) -> bytes:
    """Apply one random mutation of the kinds a damaged download or disk produces."""
    kinds = ["truncate", "overwrite", "insert"]
    if is_zip:
        kinds += ["shuffle", "drop", "garble_member", "truncate_member"]
    kind = rng.choice(kinds)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    if kind == "overwrite":
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        return bytes(mutated)
    if kind == "insert":
        position = rng.randrange(len(data))
        return data[:position] + rng.randbytes(rng.randint(1, 16)) + data[position:]
    if kind == "shuffle":
        return rebuild_zip(data, lambda members: rng.sample(members, len(members)))
    if kind == "drop":
        return rebuild_zip(
            data, lambda members: [m for m in members if m != rng.choice(members)]
        )

    def damage(members: list[tuple[str, bytes]]) -> list[tuple[str, bytes]]:
        target = rng.randrange(len(members))
        name, content = members[target]
        if kind == "garble_member":
            content = rng.randbytes(rng.randint(0, 64))
        else:
            content = content[: rng.randrange(max(len(content), 1))]
        members[target] = (name, content)
        return members

    return rebuild_zip(data, damage)


def load_mutated(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"stock{suffix}"
        path.write_bytes(data)
        try:
            validate_table(load_table(path))
        except InputError as error:
            assert str(path) in str(error)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), is_zip=st.booleans())
def test_mutated_file_never_crashes(seed: int, is_zip: bool) -> None:
    rng = random.Random(seed)
    data = mutate(XLSX_BYTES if is_zip else CSV_BYTES, is_zip, rng)

    load_mutated(data, ".xlsx" if is_zip else ".csv")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".csv", ".tsv", ".xlsx"]))
def test_random_bytes_never_crash(data: bytes, suffix: str) -> None:
    load_mutated(data, suffix)


@pytest.mark.parametrize("seed", range(6))
def test_mutated_file_cli_sends_nothing_unreadable(
    sandbox: Sandbox, tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    is_zip = seed % 2 == 0
    path = tmp_path / ("stock.xlsx" if is_zip else "stock.csv")
    path.write_bytes(mutate(XLSX_BYTES if is_zip else CSV_BYTES, is_zip, rng))

    result = run_cli(
        "sync",
        str(path),
        "--base-url",
        sandbox.url,
        "--report-dir",
        str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode in (0, 1, 2), result.stderr
    assert "Traceback" not in result.stderr
    if result.returncode == 2:
        assert sandbox.received() == []


def test_bad_member_offset_reports_damage(tmp_path: Path) -> None:
    # This mutation leaves the archive with a member offset that seek rejects
    # (OSError EINVAL), which used to escape as a traceback.
    path = tmp_path / "stock.xlsx"
    path.write_bytes(mutate(XLSX_BYTES, True, random.Random(1_102_645_146)))

    with pytest.raises(InputError, match="damaged"):
        load_table(path)
