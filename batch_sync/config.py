"""Build the effective configuration: command-line flags, then environment, then file, then defaults.

A site keeps what it sets once in a TOML file (``--config PATH``, else
``batch-sync.toml`` in the working directory if present). Secrets never come
from that file: they come from the environment, or from a file named by an
environment variable that only its owner can read. Every problem found is
collected, so one run reports them all at once.
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from batch_sync.errors import InputError

DEFAULT_CONFIG_NAME = "batch-sync.toml"

FLAG = "flag"
ENV = "env"
FILE = "file"
DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    """One configurable value: where it may come from and how it is checked.

    ``key`` is the dotted TOML key (``retry.max_attempts`` is ``max_attempts``
    in the ``[retry]`` table). ``parse`` converts a raw value and raises
    ValueError with the expected form.
    """

    key: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    flag: str | None = None
    env: str | None = None


@dataclass(frozen=True)
class Resolved:
    """A setting's effective value and where it came from."""

    value: Any
    source: str


class Config(Mapping[str, Any]):
    """The effective settings, read like a mapping from dotted key to value."""

    def __init__(self, resolved: dict[str, Resolved], path: Path | None) -> None:
        self._resolved = resolved
        self.path = path

    def __getitem__(self, key: str) -> Any:
        return self._resolved[key].value

    def __iter__(self):
        return iter(self._resolved)

    def __len__(self) -> int:
        return len(self._resolved)

    def source(self, key: str) -> str:
        return self._resolved[key].source


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{key}."))
        else:
            flat[key] = value
    return flat


def find_config_file(flag_path: Path | None, cwd: Path) -> Path | None:
    """Return the configuration file to read: --config, else batch-sync.toml if present."""
    if flag_path is not None:
        if not flag_path.is_file():
            raise InputError(f"--config {flag_path}: file not found; check the path")
        return flag_path
    candidate = cwd / DEFAULT_CONFIG_NAME
    return candidate if candidate.is_file() else None


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML configuration file into dotted keys."""
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle))
    except tomllib.TOMLDecodeError as error:
        raise InputError(f"{path}: invalid TOML ({error}); fix the line it names") from error
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: the file is not UTF-8 text; save it as UTF-8") from error
    except OSError as error:
        raise InputError(f"{path}: cannot read the configuration ({error.strerror})") from error


def resolve(
    settings: list[Setting],
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    file_values: Mapping[str, Any],
    file_path: Path | None,
    secret_keys: frozenset[str] = frozenset(),
) -> Config:
    """Merge the sources for every setting; raise InputError naming every problem."""
    problems: list[str] = []
    known = {setting.key for setting in settings}
    where = str(file_path) if file_path else "the configuration file"
    for key in sorted(set(file_values) - known):
        if key.split(".")[-1] in secret_keys:
            problems.append(
                f"{where}: '{key}' is a secret and must not be in the file; set it "
                "in the environment instead"
            )
        else:
            problems.append(f"{where}: unknown key '{key}'; the known keys are {', '.join(sorted(known))}")

    resolved: dict[str, Resolved] = {}
    for setting in settings:
        candidates = []
        if setting.flag is not None and flags.get(setting.flag) is not None:
            candidates.append((flags[setting.flag], FLAG, f"--{setting.flag.replace('_', '-')}"))
        if setting.env is not None and environ.get(setting.env, "") != "":
            candidates.append((environ[setting.env], ENV, f"${setting.env}"))
        if setting.key in file_values:
            candidates.append((file_values[setting.key], FILE, f"{where}: {setting.key}"))

        if not candidates:
            resolved[setting.key] = Resolved(setting.default, DEFAULT)
            continue
        raw, source, label = candidates[0]
        try:
            resolved[setting.key] = Resolved(setting.parse(raw), source)
        except ValueError as error:
            problems.append(f"{label} = {raw!r}: {error}")

    if problems:
        raise InputError("invalid configuration:\n  " + "\n  ".join(problems))
    return Config(resolved, file_path)


def read_secret(environ: Mapping[str, str], name: str) -> str | None:
    """Return a secret from $NAME, else from the file named by $NAME_FILE.

    The file must belong to the current user and be unreadable by others
    (mode 600 or stricter), like an SSH key.
    """
    value = environ.get(name, "").strip()
    if value:
        return value
    file_name = environ.get(f"{name}_FILE", "").strip()
    if not file_name:
        return None

    path = Path(file_name)
    try:
        info = path.stat()
    except OSError as error:
        raise InputError(f"${name}_FILE {path}: cannot read the file ({error.strerror})") from error
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            f"${name}_FILE {path}: the file can be read by other users; run "
            f"'chmod 600 {path}'"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise InputError(f"${name}_FILE {path}: the file belongs to another user")
    secret = path.read_text(encoding="utf-8").strip()
    if not secret:
        raise InputError(f"${name}_FILE {path}: the file is empty")
    return secret


# Parsers for Setting.parse. Each raises ValueError naming the expected value.


def whole_number(minimum: int, maximum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool):
            raise ValueError(f"expected a whole number from {minimum} to {maximum}")
        try:
            number = int(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"expected a whole number from {minimum} to {maximum}") from None
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected a whole number from {minimum} to {maximum}")
        if not minimum <= number <= maximum:
            raise ValueError(f"expected a whole number from {minimum} to {maximum}")
        return number

    return parse


def positive_number(maximum: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected a number greater than 0 and at most {maximum:g}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number greater than 0 and at most {maximum:g}") from None
        if not 0 < number <= maximum:
            raise ValueError(f"expected a number greater than 0 and at most {maximum:g}")
        return number

    return parse


def non_negative_number(expected: str) -> Callable[[Any], float]:
    """Return a parser for a number of 0 or more; ``expected`` describes it in errors."""

    def parse(value: Any) -> float:
        if isinstance(value, bool):
            raise ValueError(f"expected {expected}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected {expected}") from None
        if not (number >= 0 and math.isfinite(number)):
            raise ValueError(f"expected {expected}")
        return number

    return parse


def fraction(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("expected a number from 0 to 1")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("expected a number from 0 to 1") from None
    if not 0 <= number <= 1:
        raise ValueError("expected a number from 0 to 1")
    return number


def http_url(value: Any) -> str:
    from urllib.parse import urlsplit

    text = str(value).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http:// or https:// URL")
    return text.rstrip("/")


def directory(value: Any) -> Path:
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise ValueError("expected a directory path")
    return Path(str(value)).expanduser()


def optional_path(value: Any) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, Path)):
        raise ValueError("expected a file path")
    return Path(str(value)).expanduser()


def choice(*options: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse
