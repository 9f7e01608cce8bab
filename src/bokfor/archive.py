"""`bokfor archive`: a räkenskapsår packed for the seven years the law asks (Bokföringslagen
7 kap. 2 §): one zip holding the files received, unchanged (`mottaget/`), the files bokfor
wrote (`skrivet/`), the underlag (HTML and CSV, its links pointing into the zip), every
mapping version the year's runs used and the systemdokumentation of the mapping now, a copy
of the ledger (the behandlingshistorik), and `SHA256SUMS` (the manifest: `sha256sum -c`
checks it too). `bokfor archive verify` re-checks a zip against its manifest.

A received or written file is taken where the ledger says it was, or found by its size and
sha256 under the `--inputs` folders (a client folder's archive/ after `bokfor run`, where
imported SIE files were moved): never a file with other bytes. One that cannot be found
stops the archive, naming it: an archive without it would not be complete. Every member is
streamed from its file (a year of inputs is never held in memory), and the zip is written to
a temp file and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sqlite3
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import quote

from bokfor.errors import InputError, OutputError, UsageError
from bokfor.fileio import file_sha256
from bokfor.ledger import BATCH, PUSH, Ledger
from bokfor.mapping import Mapping
from bokfor.trail import Input, Trail, read_trail

MANIFEST = "SHA256SUMS"
RECEIVED, WRITTEN = "mottaget", "skrivet"
# (name in the zip, its bytes or the file to stream, the sha256 its bytes must have or "")
Member = tuple[str, bytes | Path | Iterator[bytes], str]


@dataclass(frozen=True)
class Packed:
    path: Path
    files: int
    size: int  # of the zip, bytes
    manifest_sha256: str


def fiscal_year(mapping: Mapping, year: int) -> tuple[dt.date, dt.date]:
    """The räkenskapsår that begins in `year`."""
    if not 1900 <= year <= 9998:
        raise UsageError(f"YEAR {year} is not a year", hint="give the year, e.g. 2026.")
    month, day = mapping.fiscal_year_start
    return mapping.fiscal_year_of(dt.date(year, month, day))


def pack(
    ledger: Ledger,
    mapping: Mapping,
    year: int,
    out: Path,
    search: Iterable[Path] = (),
    own: dict[str, Path] | None = None,
) -> Packed:
    """Pack the räkenskapsår that begins in `year` into the zip `out` (never over the run's
    own files `own`); what the ledger says is read in one snapshot."""
    from bokfor.outputs import check_not_own, check_writable, resolved

    first, last = fiscal_year(mapping, year)
    target = resolved(out)
    check_writable(target, option="--out")
    check_not_own(target, own or {})
    folders = list(search)
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(
                f"--inputs {folder} is not a folder", hint="name the folder the files are in."
            )
    with ledger.snapshot(), tempfile.TemporaryDirectory(prefix="bokfor-archive-") as scratch:
        trail = read_trail(ledger, first=first, last=last)
        if not trail.count:
            raise UsageError(
                f"nothing was exported for the räkenskapsår {first} – {last}",
                file=str(ledger.path),
                hint="`bokfor ledger list` shows the exports and their periods.",
            )
        finder = _Finder(folders)
        received = _received(trail, finder)
        members: list[Member] = [(name, path, sha) for sha, (name, path) in received.items()]
        members += _written(ledger, trail, finder)
        members += _underlag(trail, mapping, first, last, received)
        used = {e.run.mapping_sha256 for e in trail.exports}
        members += [
            (f"mappning/{m.sha256[:16]}.yaml", m.text.encode("utf-8"), "")
            for m in trail.mappings
            if m.sha256 in used
        ]
        packed = {
            f"a file the archive packs ({n})": p for n, p, _ in members if isinstance(p, Path)
        }
        check_not_own(target, packed)  # found under --inputs: where the ledger does not say
        members.append(("ledger.sqlite", _ledger_copy(ledger, Path(scratch)), ""))
        return _write_zip(target, members)


def _received(trail: Trail, finder: _Finder) -> dict[str, tuple[str, Path]]:
    """sha256 -> (name in the zip, where it is now), of every file the year's runs read."""
    wanted: dict[str, Input] = {}
    for export in trail.exports:
        for item in export.run.inputs:
            wanted.setdefault(item.sha256, item)
    found: dict[str, tuple[str, Path]] = {}
    missing = []
    for sha, item in wanted.items():
        where = finder.find(Path(item.path), item.size, sha)
        if where is None:
            missing.append(f"  {item.path} ({item.size} bytes, sha256 {sha})")
            continue
        found[sha] = (f"{RECEIVED}/{sha[:12]}-{_safe(Path(item.path).name)}", where)
    if missing:
        raise InputError(
            f"{len(missing)} received files are not where the ledger says they were read, "
            "nor under an --inputs folder",
            file=missing[0].strip().rsplit(" (", 2)[0],
            hint="name the folder that holds them with --inputs DIR (a client folder's "
            "archive/, the download folder); only a file with the same sha256 is taken.",
            details=missing,
        )
    return found


def _written(ledger: Ledger, trail: Trail, finder: _Finder) -> list[Member]:
    """The files each export of the year wrote, as they were written: the SIE file or a
    batch's manifest by its recorded sha256 (also where it was moved after the import), a
    batch's other files from beside its manifest."""
    records = {e.id: e for e in ledger.exports()}
    out: list[Member] = []
    for export in trail.exports:
        record = records[export.id]
        if record.kind == PUSH:
            continue  # in Fortnox; the underlag names each voucher's series and number
        target = Path(record.target)
        where = finder.find(target, record.size, record.sha256)
        if where is None:
            raise InputError(
                f"export {record.id}'s file is neither where it was written, as bokfor wrote "
                "it, nor under an --inputs folder",
                file=str(target),
                hint="name the folder it was moved to with --inputs DIR, or put it back from "
                "a backup (`bokfor ledger verify` checks the files where they were written).",
            )
        batch = f"{_safe(target.parent.name)}/" if record.kind == BATCH else ""
        prefix = f"{WRITTEN}/{record.id}-{batch}"
        out.append((prefix + _safe(target.name), where, record.sha256))
        for name in record.batch_files if record.kind == BATCH else ():
            path = where.parent / name
            if not path.is_file():
                raise InputError(
                    f"export {record.id} wrote this file beside its manifest, and it is gone",
                    file=str(path),
                    hint="put the batch folder back from a backup and archive again.",
                )
            out.append((prefix + _safe(name), path, ""))
    return out


def _underlag(
    trail: Trail,
    mapping: Mapping,
    first: dt.date,
    last: dt.date,
    received: dict[str, tuple[str, Path]],
) -> list[Member]:
    from bokfor.explain import as_html, blocks
    from bokfor.underlag import underlag_csv, underlag_page

    names = {sha: quote(name) for sha, (name, _) in received.items()}
    title = f"Räkenskapsår {first} – {last}"
    page = underlag_page(trail, mapping, title, link=lambda row: names.get(row.sha256 or ""))
    return [
        ("underlag.html", (part.encode("utf-8") for part in page), ""),
        (
            "underlag.csv",
            (part.encode("utf-8") for part in ("\ufeff", *underlag_csv(trail, mapping))),
            "",
        ),
        ("systemdokumentation.html", as_html(blocks(mapping)).encode("utf-8"), ""),
    ]


def _ledger_copy(ledger: Ledger, scratch: Path) -> Path:
    """A consistent copy of the ledger (SQLite's backup: its write-ahead log included)."""
    copy = scratch / "ledger.sqlite"
    target = sqlite3.connect(copy)
    try:
        ledger.conn.backup(target)
    finally:
        target.close()
    return copy


def _write_zip(target: Path, members: list[Member]) -> Packed:
    """The zip, written to a temp file beside `target` and renamed into place; a file whose
    bytes are not the ones expected (changed since it was found) stops it."""
    sums: list[str] = []
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
                for name, data, expected in members:
                    digest = hashlib.sha256()
                    with zf.open(_info(name), "w", force_zip64=True) as dest:
                        for chunk in _chunks(data):
                            digest.update(chunk)
                            dest.write(chunk)
                    if expected and digest.hexdigest() != expected:
                        raise InputError(
                            "the file changed while it was archived",
                            file=str(data),
                            hint="let whatever writes it finish, then archive again.",
                        )
                    sums.append(f"{digest.hexdigest()}  {name}\n")
                manifest = "".join(sums).encode("utf-8")
                zf.writestr(_info(MANIFEST), manifest)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise OutputError(
            f"writing the archive failed: {exc.strerror}",
            file=str(target),
            hint="name a file in a folder you can write to, on a disk with room.",
        ) from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
    return Packed(target, len(members), target.stat().st_size, hashlib.sha256(manifest).hexdigest())


def verify(path: Path) -> int:
    """Check every file of the archive against its manifest (and that nothing is there the
    manifest does not list); returns how many files were checked. A damaged member is
    named, not a crash."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(
            f"the archive cannot be read: {exc.strerror}", file=str(path), hint=_NAME_IT
        ) from None
    if not stat.S_ISREG(mode):
        raise InputError("the archive is not a regular file", file=str(path), hint=_NAME_IT)
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(f"not a bokfor archive: {exc}", file=str(path), hint=_NAME_IT) from None
    problems: list[str] = []
    with zf:
        names = set(zf.namelist())
        if MANIFEST not in names:
            raise InputError(f"the archive has no {MANIFEST}", file=str(path), hint=_NAME_IT)
        try:
            text = zf.read(MANIFEST).decode("utf-8")
        except (zipfile.BadZipFile, zlib.error, RuntimeError, UnicodeDecodeError) as exc:
            raise InputError(
                f"its {MANIFEST} cannot be read: {exc}", file=str(path), hint=_DAMAGED
            ) from None
        listed: dict[str, str] = {}
        for line in text.splitlines():
            digest, _, name = line.partition("  ")
            listed[name] = digest
        problems += [f"  {name}: missing" for name in listed if name not in names]
        problems += [
            f"  {name}: not in {MANIFEST}" for name in sorted(names - set(listed) - {MANIFEST})
        ]
        for name, digest in listed.items():
            if name not in names:
                continue
            h = hashlib.sha256()
            try:
                with zf.open(name) as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
            except (zipfile.BadZipFile, zlib.error, RuntimeError, EOFError) as exc:
                problems.append(f"  {name}: cannot be read ({exc})")
                continue
            if h.hexdigest() != digest:
                problems.append(f"  {name}: sha256 {h.hexdigest()}, the manifest says {digest}")
    if problems:
        raise InputError(
            f"{len(problems)} files of the archive do not match its manifest",
            file=str(path),
            hint=_DAMAGED,
            details=problems,
        )
    return len(listed)


_NAME_IT = "name the .zip `bokfor archive pack` wrote."
_DAMAGED = "the archive was changed or damaged: use a copy that verifies."


def _safe(name: str) -> str:
    """A file's name as a zip member: control characters and separators replaced, so that
    the manifest's one line a file holds it (and `sha256sum -c` reads it)."""
    return re.sub(r"[\x00-\x1f\x7f/\\]", "_", name) or "_"


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=dt.datetime.now().timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _chunks(data: bytes | Path | Iterator[bytes]) -> Iterator[bytes]:
    if isinstance(data, bytes):
        yield data
    elif isinstance(data, Path):
        with open(data, "rb") as fh:
            yield from iter(lambda: fh.read(1 << 20), b"")
    else:
        yield from data


class _Finder:
    """A file by its size and sha256: where the ledger says it is, else under the folders
    searched (indexed by size once, on first need; links not followed, so no loops)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self._by_size: dict[int, list[Path]] | None = None

    def find(self, path: Path, size: int | None, sha256: str) -> Path | None:
        if _holds(path, size, sha256):
            return path
        if size is None:
            return None
        if self._by_size is None:
            self._by_size = _by_size(self.folders)
        return next((p for p in self._by_size.get(size, ()) if _holds(p, size, sha256)), None)


def _holds(path: Path, size: int | None, sha256: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    return (
        stat.S_ISREG(info.st_mode)
        and (size is None or info.st_size == size)
        and file_sha256(path) == sha256
    )


def _by_size(folders: list[Path]) -> dict[int, list[Path]]:
    """Regular files under `folders` by size."""
    out: dict[int, list[Path]] = {}
    for folder in folders:
        for root, _, files in os.walk(folder):
            for name in files:
                path = Path(root) / name
                try:
                    info = os.lstat(path)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode):
                    out.setdefault(info.st_size, []).append(path)
    return out
