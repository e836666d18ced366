"""Files that hold a password or a key: owner-only (mode 0600) from their first byte.

Every such file goes through `write_private` (the state folder's `secrets.json`, the password file
`initdb` reads): the content is written to a 0600 temporary file beside the target, which then
replaces the target (or is linked to it when it must not exist yet), so no reader ever sees the
secret in a file with a wider mode, nor a half-written one.
"""

from __future__ import annotations

import os
from pathlib import Path

MODE = 0o600


def write_private(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Write `text` to `path` with mode 0600.

    `exclusive`: refuse (FileExistsError) when `path` already exists, e.g. when another process
    has just created it; otherwise an existing file is replaced (and so gets mode 0600).
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, MODE)
    try:
        with os.fdopen(fd, "w") as fh:
            os.fchmod(fh.fileno(), MODE)  # the umask may have removed bits from MODE, never added
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(tmp, path)  # atomic, and fails when the target exists
        else:
            os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def is_private(path: Path) -> bool:
    """Readable and writable by its owner only (no group or other bits)."""
    return Path(path).stat().st_mode & 0o077 == 0
