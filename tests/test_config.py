"""Configuration precedence, error collection and secrets read from files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from batch_sync.config import (
    DEFAULT,
    ENV,
    FILE,
    FLAG,
    Setting,
    find_config_file,
    read_config_file,
    read_secret,
    resolve,
    whole_number,
    http_url,
)
from batch_sync.errors import InputError
from tests.conftest import run_cli

SETTINGS = [
    Setting("concurrency", 16, whole_number(1, 256), "workers", flag="concurrency", env="BATCH_SYNC_CONCURRENCY"),
    Setting("base_url", "https://example.test", http_url, "API", flag="base_url", env="ECROSS_BASE_URL"),
    Setting("retry.max_attempts", 5, whole_number(1, 20), "attempts", flag="max_attempts"),
]


def test_flag_beats_env_beats_file_beats_default() -> None:
    flags = {"concurrency": 8, "base_url": None, "max_attempts": None}
    environ = {"BATCH_SYNC_CONCURRENCY": "4", "ECROSS_BASE_URL": "http://127.0.0.1:1"}
    file_values = {"concurrency": 2, "base_url": "http://127.0.0.1:2", "retry.max_attempts": 3}

    config = resolve(SETTINGS, flags, environ, file_values, Path("site.toml"))

    assert (config["concurrency"], config.source("concurrency")) == (8, FLAG)
    assert (config["base_url"], config.source("base_url")) == ("http://127.0.0.1:1", ENV)
    assert (config["retry.max_attempts"], config.source("retry.max_attempts")) == (3, FILE)


def test_default_used_when_no_source() -> None:
    config = resolve(SETTINGS, {}, {}, {}, None)

    assert config["concurrency"] == 16
    assert config.source("concurrency") == DEFAULT


def test_every_problem_reported_at_once() -> None:
    file_values = {"concurrency": 0, "base_url": "ftp://x", "retry.max_attempts": "many", "colour": "red"}

    with pytest.raises(InputError) as raised:
        resolve(SETTINGS, {}, {}, file_values, Path("site.toml"))

    message = str(raised.value)
    assert "concurrency = 0: expected a whole number from 1 to 256" in message
    assert "base_url = 'ftp://x': expected an http:// or https:// URL" in message
    assert "retry.max_attempts = 'many'" in message
    assert "unknown key 'colour'" in message


def test_secret_in_file_is_rejected() -> None:
    with pytest.raises(InputError) as raised:
        resolve(SETTINGS, {}, {}, {"token": "abc"}, Path("site.toml"), secret_keys=frozenset({"token"}))

    assert "'token' is a secret" in str(raised.value)
    assert "abc" not in str(raised.value)


def test_nested_tables_become_dotted_keys(tmp_path: Path) -> None:
    path = tmp_path / "batch-sync.toml"
    path.write_text("concurrency = 4\n[retry]\nmax_attempts = 7\n")

    assert read_config_file(path) == {"concurrency": 4, "retry.max_attempts": 7}
    assert find_config_file(None, tmp_path) == path


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "batch-sync.toml"
    path.write_text("concurrency = = 4\n")

    with pytest.raises(InputError) as raised:
        read_config_file(path)

    assert str(path) in str(raised.value)


def test_secret_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    os.chmod(path, 0o644)

    with pytest.raises(InputError) as raised:
        read_secret({"ECROSS_TOKEN_FILE": str(path)}, "ECROSS_TOKEN")

    assert "chmod 600" in str(raised.value)
    assert "s3cret" not in str(raised.value)


def test_secret_read_from_private_file(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("s3cret\n")
    os.chmod(path, 0o600)

    assert read_secret({"ECROSS_TOKEN_FILE": str(path)}, "ECROSS_TOKEN") == "s3cret"
    assert read_secret({"ECROSS_TOKEN": "direct", "ECROSS_TOKEN_FILE": str(path)}, "ECROSS_TOKEN") == "direct"


def test_encoding_flag_reads_a_cp1250_export(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_bytes("skuId,quantity,warehouseId,inventoryType\nŘEČ-1,2,1,AVAILABLE\n".encode("cp1250"))

    result = run_cli(
        "sync", str(path), "--dry-run", "--encoding", "cp1250", "--report-dir", str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": "t"},
    )

    assert result.returncode == 0, result.stderr
    (results,) = (tmp_path / "reports").glob("stock-*-results.csv")
    assert "ŘEČ-1" in results.read_text(encoding="utf-8-sig")


def test_unknown_encoding_is_a_configuration_error(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text("skuId,quantity,warehouseId,inventoryType\nA,2,1,AVAILABLE\n")

    result = run_cli("sync", str(path), "--dry-run", "--encoding", "klingon", env={"ECROSS_TOKEN": "t"})

    assert result.returncode == 2
    assert "--encoding = 'klingon': expected an encoding name" in result.stderr
    assert "Traceback" not in result.stderr
