"""Atomic file output: a reader (or a crash) never sees half a file. And the one way files
the user names are opened for reading: only regular files, under a size cap, so that a FIFO,
a device or a directory given by mistake ends in one message, never a hang."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable, TypeVar

from bokfor import faults
from bokfor.errors import BokforError, InputError, OutputError

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
        raise OutputError(
            f"cannot write the scratch file: {exc.strerror}",
            file=str(path),
            hint="free space in the temporary directory, or point TMPDIR at one with room.",
        ) from None
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Staged(path, out.digest.hexdigest(), out.size), result


_WRITE_HINT = (
    "check that the folder exists, that this user may write in it and that the disk has room."
)


def atomic_write(path: Path, data: bytes | Staged | Iterable[bytes]) -> None:
    """Write `data` (or copy the staged file, or write the parts as they come: a large page
    is never held whole) to a temp file beside `path`, fsync it,
    rename it over `path`, and fsync the directory so the rename itself survives a power
    cut."""
    tmp = write_beside(path, data)
    try:
        put_in_place(tmp, path)
    except BaseException:
        remove_quietly(tmp)
        raise


def write_beside(path: Path, data: bytes | Staged | Iterable[bytes]) -> Path:
    """The first half of `atomic_write`: `data` in a temp file beside `path`
    (`.<name>.<random>.tmp`), fsynced; `put_in_place` renames it. An export writes its file
    so before it is recorded pending: a pending export with its temp file still there was
    never renamed, one without it was (`Ledger.recover`)."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise OutputError(
            f"cannot write here: {exc.strerror}", file=str(path), hint=_WRITE_HINT
        ) from None
    tmp = Path(name)
    try:
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; the output is an ordinary file
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, Staged):
                with open(data.path, "rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
            elif isinstance(data, bytes):
                fh.write(data)
            else:
                for part in data:
                    fh.write(part)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException as exc:  # Ctrl-C too: a temp file no one names is no one's
        remove_quietly(tmp)
        if not isinstance(exc, OSError):
            raise
        raise OutputError(
            f"writing failed: {exc.strerror}", file=str(path), hint=_WRITE_HINT
        ) from None
    fsync_dir(directory)  # the temp file's name, which a crash recovery looks for
    return tmp


def put_in_place(tmp: Path, path: Path, *, replace: bool = True) -> None:
    """The second half of `atomic_write`: rename `tmp` over `path` and fsync the directory
    so the rename itself survives a power cut. A rename that fails leaves `tmp` (an export's
    recovery reads it as "never put in place"). `replace` False: never over a file that is
    there (another run's, written since it was checked): a hard link, then the temp file's
    name removed; where the file system has no hard links, a rename after one more look."""
    faults.point("before-rename")
    try:
        if replace:
            os.replace(tmp, path)
        else:
            _link_in_place(tmp, path)
    except FileExistsError:
        raise OutputError(
            "another run wrote this file meanwhile: bokfor never writes over it",
            file=str(path),
            hint="give each job a file of its own (e.g. --out 'out/bokfor-{run}.si' in a "
            "folder of its own); this run's rows are booked by the next run.",
        ) from None
    except OSError as exc:
        raise OutputError(
            f"writing failed: {exc.strerror}", file=str(path), hint=_WRITE_HINT
        ) from None
    fsync_dir(tmp.parent)


def _link_in_place(tmp: Path, path: Path) -> None:
    try:
        os.link(tmp, path)  # FileExistsError if a file is there
    except FileExistsError:
        if not linked(tmp, path):  # a link retried by a network file system: it is there
            raise
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if os.path.lexists(path):  # no hard links here (FAT, some shares)
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.rename(tmp, path)
        return
    remove_quietly(tmp)  # in place: a temp name left is one more link, found as such


def linked(tmp: Path, path: Path) -> bool:
    """Whether `tmp` is (still) a second name of the file at `path`, or of a file that was
    there (a link count over 1): the file was put in place (`put_in_place`, not replacing)."""
    try:
        if os.stat(tmp).st_nlink > 1:
            return True
        return os.path.samefile(tmp, path)
    except OSError:  # either is gone
        return False


def read_head(path: Path, size: int) -> bytes | None:
    """The first `size` bytes of `path` if it is a regular file (never through a link, never
    a FIFO's open that waits), else None: a look at what a file is before anything is done
    with it."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return None


def remove_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


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
        return new_file_mode()


def new_file_mode() -> int:
    """What the umask gives a new file (mkstemp makes 0600 whatever it says)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# What a path is when it is not a regular file: the message says so, by name.
_NOT_A_FILE = (
    (stat.S_ISDIR, "is a directory, not a file"),
    (stat.S_ISFIFO, "is a FIFO (named pipe), not a file"),
    (stat.S_ISCHR, "is a device, not a file"),
    (stat.S_ISBLK, "is a device, not a file"),
    (stat.S_ISSOCK, "is a socket, not a file"),
)


def open_nowait(path: Path) -> int:
    """A descriptor of `path` opened for reading without waiting: a FIFO's plain open waits
    for a writer (forever, under cron). Take the file's kind from it (os.fstat), not from
    the path, and read a regular file only (O_NONBLOCK does not change how one is read)."""
    return os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))


def open_regular(
    path: Path,
    what: str,
    *,
    limit: int | None = None,
    error: type[BokforError] = InputError,
    key: str | None = None,
) -> BinaryIO:
    """`path` opened for reading (binary) if it is a regular file (a symlink to one is
    followed) of at most `limit` bytes; else `error` naming the file, what it is and `what`
    bokfor expected there ("the mapping (YAML)"). The open itself cannot block: O_NONBLOCK
    (a FIFO's open waits for a writer), and the kind is taken from the opened descriptor, so
    a file swapped after a check is caught too."""
    file = str(path)
    try:
        fd = open_nowait(path)
    except FileNotFoundError:
        raise error("no such file", file=file, key=key, hint=f"give the path of {what}.") from None
    except IsADirectoryError:  # where a directory cannot be opened (Windows)
        raise error(
            _NOT_A_FILE[0][1], file=file, key=key, hint=f"give the path of {what}."
        ) from None
    except OSError as exc:
        raise error(f"cannot read the file ({exc.strerror})", file=file, key=key) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = next(
                (text for test, text in _NOT_A_FILE if test(info.st_mode)), "is not a regular file"
            )
            raise error(kind, file=file, key=key, hint=f"give the path of {what}.")
        if limit is not None and info.st_size > limit:
            raise too_large(path, what, limit, error, key)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(
    path: Path,
    what: str,
    *,
    limit: int,
    error: type[BokforError] = InputError,
    key: str | None = None,
) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (`open_regular`); a file that
    grows past the limit while read (or whose size the system does not know) is refused too."""
    with open_regular(path, what, limit=limit, error=error, key=key) as fh:
        try:
            data = fh.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read the file ({exc.strerror})", file=str(path), key=key) from None
    if len(data) > limit:
        raise too_large(path, what, limit, error, key)
    return data


def too_large(
    path: Path, what: str, limit: int, error: type[BokforError], key: str | None
) -> BokforError:
    return error(
        f"the file is larger than {_size(limit)}, the most bokfor reads as {what}",
        file=str(path),
        key=key,
        hint=f"check that this is {what}.",
    )


def _size(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n:,} bytes"


def file_sha256(path: Path) -> str | None:
    """The sha256 of a regular file's bytes; None when it cannot be read or is no regular
    file (a FIFO put where a written file was is never waited on: every run checks them)."""
    try:
        fd = open_nowait(path)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1  # closed with fh
            return hashlib.file_digest(fh, "sha256").hexdigest()
    except OSError:
        return None
    finally:
        if fd >= 0:
            os.close(fd)
