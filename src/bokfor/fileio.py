"""Atomic file output: a reader (or a crash) never sees half a file."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, TypeVar

from bokfor import faults
from bokfor.errors import OutputError

T = TypeVar("T")


@dataclass(frozen=True)
class Staged:
    """Output written once to a scratch file, with its digest: a large file is never held
    whole in memory, and the ledger records the digest before the file is put in place."""

    path: Path
    sha256: str
    size: int


class _Hashing:
    """A binary writer that hashes and counts what passes through it."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh, self.digest, self.size = fh, hashlib.sha256(), 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._fh.write(data)


def stage(path: Path, produce: Callable[[BinaryIO], T]) -> tuple[Staged, T]:
    """Call `produce` with a binary writer into the scratch file `path` (not fsynced: it
    is copied by `atomic_write`, never renamed into place); returns it and what `produce`
    returned. Failing half-way, the file is removed."""
    try:
        with open(path, "wb") as fh:
            out = _Hashing(fh)
            result = produce(out)  # type: ignore[arg-type]
    except OSError as exc:
        path.unlink(missing_ok=True)
        raise OutputError(f"cannot write the scratch file: {exc.strerror}", file=str(path),
                          hint="free space in the temporary directory, or point TMPDIR "
                          "at one with room.") from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, out.digest.hexdigest(), out.size), result


def atomic_write(path: Path, data: bytes | Staged) -> None:
    """Write `data` (or copy the staged file) to a temp file beside `path`, fsync it,
    rename it over `path`, and fsync the directory so the rename itself survives a power
    cut."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror}", file=str(path)) from None
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; the output is an ordinary file
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, Staged):
                with open(data.path, "rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        faults.point("before-rename")
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"writing failed: {exc.strerror}", file=str(path)) from None
    fsync_dir(directory)


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so that a rename or link in it survives a power cut."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # platforms without directory fds (Windows): the rename is still atomic
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _mode_for(path: Path) -> int:
    """The mode of the file being replaced, else what the umask gives a new file."""
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
