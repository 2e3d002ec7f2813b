"""What every metadata plugin shares: the archive as a plugin sees it (ArchiveInfo), the descriptor and
function pair (Plugin), its output and errors, and small parsing helpers. plugins/__init__.py says what a
plugin is; registry.py lists them."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrr_lite.errors import ArchiveError, DomainError
from lrr_lite.library import pages
from lrr_lite.media import formats

PLUGIN_TYPES = ("download", "login", "metadata", "script")


class PluginError(Exception):
    """A plugin run that failed; the message is sent to clients as the result's `error`."""


@dataclass
class PluginOutput:
    tags: list[str] = field(default_factory=list)
    title: str | None = None
    summary: str | None = None


@dataclass
class ArchiveInfo:
    """What a plugin may look at: the archive's record and, lazily, the files inside it."""

    ctx: Any
    archive_id: str
    path: Path
    filename: str  # without extension, as stored
    title: str
    tags: str
    _members: list[str] | None = None

    def members(self) -> list[str]:
        if self._members is None:
            try:
                self._members = formats.list_members(self.path)
            except (ArchiveError, OSError) as exc:
                raise PluginError(f"Couldn't open the archive: {exc}") from None
        return self._members

    def find_member(self, suffix: str) -> str | None:
        """The first member whose basename ends with `suffix` (case-sensitive, as LANraragi's
        is_file_in_archive does)."""
        for name in self.members():
            if not name.endswith("/") and posixpath.basename(name).endswith(suffix):
                return name
        return None

    def read_member(self, name: str) -> bytes:
        try:
            return pages.read_member(self.ctx, self.archive_id, name)
        except DomainError as exc:
            raise PluginError(exc.message) from None

    def embedded(self, *suffixes: str) -> tuple[str, bytes] | None:
        """(member name, bytes) of the first member matching one of the suffixes, tried in order."""
        for suffix in suffixes:
            name = self.find_member(suffix)
            if name is not None:
                return name, self.read_member(name)
        return None

    def sidecar(self, ext: str = ".json") -> bytes | None:
        """The file next to the archive with the same name and `ext` (`foo.cbz` -> `foo.json`)."""
        name = self.path.name
        stem = name[: name.rfind(".")] if "." in name else name
        candidate = self.path.with_name(stem + ext)
        try:
            return candidate.read_bytes() if candidate.is_file() else None
        except OSError:
            return None


PluginFn = Callable[[ArchiveInfo, dict[str, Any], str], PluginOutput]


@dataclass
class Plugin:
    descriptor: dict[str, Any]
    fn: PluginFn

    @property
    def namespace(self) -> str:
        return self.descriptor["namespace"]

    @property
    def type(self) -> str:
        return "metadata"

    def info(self) -> dict[str, Any]:
        out = dict(self.descriptor)
        out["type"] = self.type
        return out

    def param_values(self, stored: list[Any] | None) -> dict[str, Any]:
        """Parameter values by name (or position) from the stored list, defaults filling the gaps."""
        values: dict[str, Any] = {}
        for i, spec in enumerate(self.descriptor.get("parameters", [])):
            if stored is not None and i < len(stored) and stored[i] is not None:
                value = stored[i]
            elif "default_value" in spec:
                value = spec["default_value"]
            else:
                value = "" if spec.get("type") == "string" else 0
            if spec.get("type") == "bool":
                value = truthy(value)
            elif spec.get("type") == "int":
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    value = 0
            else:
                value = "" if value is None else str(value)
            values[str(i)] = value
            if spec.get("name"):
                values[spec["name"]] = value
        return values


def truthy(value: Any) -> bool:
    """Plugin-setting booleans: stored as 1/0, true/false, on/off or real booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return str(value).strip().lower() in ("1", "true", "yes", "on", "y")


def decode_text(data: bytes) -> str:
    """Text files written by downloaders: UTF-8 (with or without BOM), else Latin-1 rather than failing."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_json(data: bytes, what: str) -> Any:
    try:
        return json.loads(decode_text(data))
    except ValueError as exc:
        raise PluginError(f"Couldn't parse {what}: {exc}") from None


def split_list(value: Any) -> list[str]:
    """A JSON field that may be a list of strings or a comma-separated string -> trimmed non-empty items."""
    if value is None or value is False:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    out = []
    for item in items:
        if isinstance(item, dict | list):
            continue
        text = str(item).strip()
        if text:
            out.append(text)
    return out


def prefixed(namespace: str, value: Any) -> list[str]:
    """`namespace:item` for each item of a list or comma-separated string (bare items if namespace is '')."""
    return [f"{namespace}:{item}" if namespace else item for item in split_list(value)]
