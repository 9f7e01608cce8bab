"""Where a run's files go: one file (or Fortnox batch) per fiscal year, named by the `--out`
template, and never over a file an earlier export wrote.

A SIE file holds one räkenskapsår and Fortnox imports one year a file, so a run whose
vouchers span a year end writes one file per year: `{year}` in the template names it, and a
template without `{year}` gets `-<year>` before its suffix (`out.si` -> `out-2025.si`,
`out-2026.si`) when, and only when, the run spans years. A cron job that writes every night
names each run's file with `{run}` (the run's number in the ledger; `{from}`/`{to}` may repeat
when a late row of a day already written comes in): a path that holds an earlier export's
file is refused, since replacing it could lose vouchers not yet imported (docs/ledger.md,
"Cron").
"""

from __future__ import annotations

import datetime as dt
import os
import stat
import string
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from bokfor.domain import FiscalYear, Voucher, VoucherColumns, dates_of
from bokfor.errors import BokforError, UsageError

if TYPE_CHECKING:
    from bokfor.ledger import Ledger

FIELDS = ("from", "to", "year", "run", "source")


@dataclass(frozen=True)
class Part:
    """The vouchers of one fiscal year of a run (`indices` into the plan's `to_write`),
    written as one file."""

    year: FiscalYear
    indices: tuple[int, ...]

    def vouchers(self, to_write: Sequence[Voucher]) -> Sequence[Voucher]:
        if isinstance(to_write, VoucherColumns):
            return to_write.take(self.indices)
        return [to_write[i] for i in self.indices]


def split_years(
    vouchers: Sequence[Voucher], year_of: Callable[[dt.date], tuple[dt.date, dt.date]]
) -> list[Part]:
    """The run's vouchers by fiscal year, earliest year first, each in the run's order."""
    years: dict[tuple[dt.date, dt.date], list[int]] = {}
    of_day: dict[dt.date, list[int]] = {}  # the year's list; a run's vouchers share few days
    for i, day in enumerate(dates_of(vouchers)):
        found = of_day.get(day)
        if found is None:
            found = of_day[day] = years.setdefault(year_of(day), [])
        found.append(i)
    return [
        Part(FiscalYear(start, end, 0), tuple(indices))
        for (start, end), indices in sorted(years.items())
    ]


def year_label(year: FiscalYear) -> str:
    """`2026` for a calendar year, `2025-2026` for a broken one (1 July - 30 June)."""
    if (year.start.month, year.start.day) == (1, 1):
        return str(year.start.year)
    return f"{year.start.year}-{year.end.year}"


def fields_of(template: str) -> list[str]:
    """The fields `--out` names; refuses one bokfor does not know, and a conversion or a
    format spec (`{year!r}`, `{run:03}`), before anything is read."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(
            f"--out {template!r} is not a valid template: {exc}",
            hint="write fields as {year}; a literal brace as {{ or }}.",
        ) from None
    known = ", ".join(f"{{{f}}}" for f in FIELDS)
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS:
            raise UsageError(
                f"--out {template!r} names {{{name}}}, which bokfor does not know",
                hint=f"use {known}.",
            )
        if spec or conversion:
            raise UsageError(
                f"--out {template!r}: {{{name}}} takes no conversion or format",
                hint=f"write the field plain: {{{name}}}.",
            )
    return [name for _, name, _, _ in parsed if name is not None]


def target(
    template: str,
    part: Part,
    vouchers: Sequence[Voucher],
    *,
    several: bool,
    run: int | None,
    sources: str,
) -> Path:
    """The path `part` is written to. `run` None (a preview) leaves `{run}` as it is."""
    if several and "year" not in fields_of(template):
        path = Path(template)
        template = (
            str(path.with_name(f"{path.stem}-{{year}}{path.suffix}"))
            if path.suffix
            else f"{template}-{{year}}"
        )
    dates = dates_of(part.vouchers(vouchers))
    text = template.format(
        **{
            "from": min(dates).isoformat(),
            "to": max(dates).isoformat(),
            "year": year_label(part.year),
            "run": "{run}" if run is None else str(run),
            "source": sources,
        }
    )
    return Path(text)


def generated(tz: dt.tzinfo) -> dt.date:
    """#GEN date: SOURCE_DATE_EPOCH when set (reproducible output), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.timezone.utc).date()
        except ValueError:
            raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    return dt.datetime.now(tz).date()


def resolved(path: Path) -> Path:
    """The path a file is really written at: through a link to it (the link stays and
    points at the new file) and through linked directories, so that what the ledger records
    is where the bytes are."""
    return Path(os.path.realpath(path))


def check_not_own(path: Path, own: dict[str, Path], option: str = "--out") -> None:
    """Refuse an output at the path of a file bokfor keeps or reads (`own`: what it is ->
    its path, e.g. "the export ledger"): writing it would destroy it (a ledger replaced by a
    SIE file is a new, empty ledger next time, and every row booked again)."""
    target = resolved(path)
    for what, keep in own.items():
        try:
            same = target == resolved(keep) or (target.exists() and os.path.samefile(target, keep))
        except OSError:
            same = False
        if same:
            raise UsageError(
                f"{option} {path} is {what}: writing there would destroy it",
                hint="name another file for the output.",
            )


def ledger_files(ledger: Path) -> dict[str, Path]:
    """The export ledger and the files SQLite and its lock keep beside it (`-wal`, `-shm`,
    `-journal`, `.lock`), named for `check_not_own`: a page written over the write-ahead log
    is a ledger that loses its last exports, one over the lock a lock that no longer holds."""
    from bokfor.ledger import SIDE_FILES

    return {
        "the export ledger": ledger,
        **{
            f"the export ledger's {what}": ledger.with_name(ledger.name + suffix)
            for suffix, what in SIDE_FILES
        },
    }


def recorded_files(ledger: Ledger) -> dict[str, Path]:
    """The files the ledger says bokfor wrote — each export's SIE file, each file of a
    batch — and the received files its runs read, named for `check_not_own`: an output
    written over one loses vouchers not imported yet, or the underlag's source files."""
    from bokfor.ledger import BATCH, PUSH

    found: dict[Path, str] = {}
    for e in ledger.exports():
        if e.kind == PUSH:
            continue  # posted to Fortnox: no file
        target = Path(e.target)
        said = f"{e.vouchers} verifikationer {e.first_date} .. {e.last_date}"
        if e.kind == BATCH:
            found.setdefault(target, f"export {e.id}'s batch manifest ({said})")
            for name in e.batch_files:
                found.setdefault(target.parent / name, f"a file of export {e.id}'s batch ({name})")
        else:
            found.setdefault(target, f"export {e.id}'s file ({said})")
    for run, path in ledger.received():
        found.setdefault(Path(path), f"a received file (run {run} read {path})")
    return {what: path for path, what in found.items()}


def kept_files(ledger: Path, mapping: Path | None = None) -> dict[str, Path]:
    """What an output besides convert's SIE files (a review page, the underlag, an archive,
    the systemdokumentation) must never replace, for `check_not_own`: the ledger and the
    files beside it (`ledger_files`), the mapping, and every file the ledger records
    (`recorded_files`); a run's inputs are `convert.Job.own_files`'. A ledger that cannot be
    read adds only its own paths: the command that reads it says what is wrong with it."""
    from bokfor.ledger import Ledger

    own = {**ledger_files(ledger), **({"the mapping": mapping} if mapping is not None else {})}
    try:
        book = Ledger.open(ledger)
    except BokforError:
        return own
    try:
        return {**own, **recorded_files(book)}
    finally:
        book.close()


def check_writable(path: Path, *, directory: bool = False, option: str = "--out") -> None:
    """Only a regular file (or, for a batch, a directory) is ever replaced: a FIFO, a device
    or a socket named as `--out` (or `option`) is refused, never swapped for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(
            f"{option} {path}: {exc.strerror}", hint="name a file bokfor can write."
        ) from None
    if directory and stat.S_ISDIR(mode) or not directory and stat.S_ISREG(mode):
        return
    kind = (
        "a directory"
        if stat.S_ISDIR(mode)
        else "a named pipe (FIFO)"
        if stat.S_ISFIFO(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a file"
    )
    want = "a directory for the batch" if directory else "a regular file"
    raise UsageError(
        f"{option} {path} is {kind}; bokfor writes {want} and replaces nothing else",
        hint="name a new file (or directory) for the output."
        if option == "--out"
        else "name a new file.",
    )
