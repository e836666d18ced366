"""The inbox: the folder a user drops order exports into (PROFITEER_INBOX, default
`<state folder>/inbox/`). One file per import name; a mapping travels beside it."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.sources.files.errors import ImportRefused
from profiteer_pipeline.sources.files.names import is_mapping, mapping_path, name_from_path
from profiteer_pipeline.sources.files.sniff import SUPPORTED_SUFFIXES, content_hash, file_format

#: Tags of an import run: the import's name and the content it imports (the sensor skips a
#: content already submitted, e.g. by `profiteer import`).
NAME_TAG = "profiteer/import"
CONTENT_TAG = "profiteer/import_sha256"


def settle_seconds() -> float:
    """How long a file must be left unchanged before it is imported (a copy may be under way)."""
    return float(os.environ.get("PROFITEER_INBOX_SETTLE_SECONDS", "5"))


def settled(found: InboxFile, now_ns: int | None = None) -> bool:
    now_ns = time.time_ns() if now_ns is None else now_ns
    return now_ns - found.mtime_ns >= settle_seconds() * 1e9


def inbox_dir() -> Path:
    return Path(os.environ.get("PROFITEER_INBOX") or settings_mod.state_dir() / "inbox").resolve()


@dataclass(frozen=True)
class InboxFile:
    name: str  # the import name (partition key)
    path: Path
    size: int
    mtime_ns: int

    @property
    def fingerprint(self) -> str:
        """Cheap change marker (size and mtime); the content hash decides what is imported."""
        return f"{self.size}:{self.mtime_ns}"

    def sha256(self) -> str:
        return content_hash(self.path)


def scan(inbox: Path | None = None) -> tuple[dict[str, InboxFile], list[str]]:
    """({name: file}, problems): hidden and temporary files and mappings are skipped; two files
    with one name (orders.csv and orders.parquet) are a problem, and neither is imported."""
    inbox = inbox or inbox_dir()
    found: dict[str, list[InboxFile]] = {}
    if not inbox.is_dir():
        return {}, []
    for path in sorted(inbox.iterdir()):
        if path.name.startswith(".") or not path.is_file() or is_mapping(path):
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        try:
            name = name_from_path(path)
            stat = path.stat()
        except (ImportRefused, OSError):
            continue
        found.setdefault(name, []).append(InboxFile(name, path, stat.st_size, stat.st_mtime_ns))
    problems = [
        f"{', '.join(f.path.name for f in files)}: one import name ({name}) for several files"
        for name, files in found.items()
        if len(files) > 1
    ]
    return {name: files[0] for name, files in found.items() if len(files) == 1}, problems


def find(name: str, inbox: Path | None = None) -> InboxFile:
    files, problems = scan(inbox)
    for problem in problems:
        if f"({name})" in problem:
            raise ImportRefused(f"inbox {inbox or inbox_dir()}: {problem}; remove one of them")
    if name not in files:
        raise ImportRefused(f"no file for the import {name!r} in the inbox {inbox or inbox_dir()}")
    return files[name]


def place(source: Path, name: str, mapping: Path | None = None, inbox: Path | None = None) -> Path:
    """Copy `source` into the inbox as `<name><suffix>` (atomically, replacing an older file of
    that name in any format), with its mapping as `<name>.mapping.yaml` (or none)."""
    inbox = inbox or inbox_dir()
    inbox.mkdir(parents=True, exist_ok=True)
    file_format(source)  # refuses an unsupported type before anything is copied
    suffix = "".join(s.lower() for s in source.suffixes[-1:])
    target = inbox / f"{name}{suffix}"
    for other in inbox.glob(f"{name}.*"):
        if other != target and not is_mapping(other) and other.suffix.lower() in SUPPORTED_SUFFIXES:
            other.unlink()
    for dest, src in ((target, source), (mapping_path(inbox, name), mapping)):
        if src is None:
            dest.unlink(missing_ok=True)
            continue
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=inbox)
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dest)
        finally:
            Path(tmp).unlink(missing_ok=True)
    return target


def fingerprint(found: InboxFile) -> str:
    """Size and mtime of the file and of its mapping: cheap, checked on every sensor tick."""
    mapping = mapping_path(found.path.parent, found.name)
    mark = found.fingerprint
    if mapping.exists():
        stat = mapping.stat()
        mark += f"|{stat.st_size}:{stat.st_mtime_ns}"
    return mark


def content_key(found: InboxFile) -> str:
    """The file's content hash (and its mapping's): what a run of this import is tagged with."""
    mapping = mapping_path(found.path.parent, found.name)
    return found.sha256() + (":" + content_hash(mapping) if mapping.exists() else "")
