"""Carry out a plan: write its SIE files (one a fiscal year) and record them in the ledger,
crash-safely.

The order is what makes a re-run safe (docs/ledger.md): record each file's export as pending
and commit; write the files (temp + fsync + rename); mark the exports done. A crash anywhere
is settled by `Ledger.recover` on the next run, from whether each file holds its recorded
bytes. A file an earlier export wrote is never written over (`Job.check_targets`).
"""

from __future__ import annotations

import datetime as dt
import os
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from bokfor import faults
from bokfor.domain import Caution, Notice
from bokfor.errors import BokforError, MappingError, OutputError, OutputReused, UsageError
from bokfor.fileio import (
    Staged,
    atomic_write,
    file_sha256,
    put_in_place,
    remove_quietly,
    stage,
    write_beside,
)
from bokfor.ledger import BATCH, SIE, ExportRecord, Ledger
from bokfor.mapping import Mapping
from bokfor.outputs import Part, check_not_own, check_writable, ledger_files, resolved, target
from bokfor.plan import Plan, check_books, make_plan, refuse_cautions
from bokfor.plausibility import refuse
from bokfor.sie.model import SieDocument
from bokfor.sie.writer import render, render_to

if TYPE_CHECKING:  # the Fortnox modules are imported for --format fortnox only
    from bokfor.fortnox.batch import Batch

FORTNOX_TEXT_LIMIT = 50  # Fortnox's SIE import refuses longer voucher and row texts
BATCH_SIE = "vouchers.si"


@dataclass
class BatchOutput:
    """`--format fortnox`: the SIE 4I file and the POST bodies, all in one directory (held
    in memory: a batch is what one Fortnox import takes, not a year of bank rows)."""

    sie: bytes
    batch: Batch


@dataclass
class Rendered:
    """One file (or batch) of a run: the vouchers of one fiscal year, ready to be written."""

    part: Part
    data: Union[Staged, BatchOutput]

    @property
    def sha256(self) -> str:
        if isinstance(self.data, BatchOutput):
            return hashlib.sha256(self.data.batch.manifest).hexdigest()
        return self.data.sha256


class ChangedRowsError(MappingError):
    """Rows were exported before with other content: a person must decide."""


def check_plan(plan: Plan, *, correct: bool, allow_new_accounts: bool) -> None:
    """Refuse to write when the plan holds unmapped rows, undecided changes, or accounts
    the books do not have."""
    if plan.errors:
        raise plan.errors[0]
    if plan.changed and not correct:
        n = len(plan.changed)
        raise ChangedRowsError(
            f"{n} row{'s' if n > 1 else ''} changed since {'they were' if n > 1 else 'it was'}"
            " exported; nothing was written",
            hint="if the source is right, run again with --correct: bokfor books a reversal "
            "of what was exported and the new booking. If the earlier import was undone in "
            "the books, `bokfor ledger forget EXPORT` first.",
            details=[f"  ~ {e.detail}" for e in plan.changed],
        )
    if plan.missing_accounts and not allow_new_accounts:
        raise MappingError(
            f"account{'s' if len(plan.missing_accounts) > 1 else ''} "
            f"{', '.join(plan.missing_accounts)} not in the books' chart of accounts (--books)",
            key="accounts",
            hint="fix the mapping, create the accounts in the books, or add "
            "--allow-new-accounts (the SIE import then creates them).",
        )


def render_plan(
    plan: Plan, mapping: Mapping, generated: dt.date, *, checksum: bool, part: Part, n: int
) -> tuple[Staged, list[Notice]]:
    """The SIE file of one part, written to the plan's scratch directory: it is copied into
    place by `export` and removed with the plan."""
    doc = plan.document(mapping, generated, part)
    return stage(
        plan.spool.scratch(f"output-{n}.si"),
        lambda out: render_to(doc, out, checksum=checksum, text_limit=mapping.text_limit),
    )


def render_batch(
    plan: Plan, mapping: Mapping, generated: dt.date, *, checksum: bool, part: Part
) -> tuple[BatchOutput, list[Notice]]:
    """The Fortnox batch of one part: SIE 4I with Fortnox's import rules (one financial
    year, texts of at most 50 characters, the mapping's series) plus one `POST /3/vouchers`
    body per voucher."""
    from bokfor.fortnox.batch import build_batch

    limit = min(mapping.text_limit or FORTNOX_TEXT_LIMIT, FORTNOX_TEXT_LIMIT)
    sie, notices = render(
        plan.document(mapping, generated, part), checksum=checksum, text_limit=limit
    )
    batch = build_batch(
        part.vouchers(plan.to_write),
        extra={"sie": {"file": BATCH_SIE, "sha256": hashlib.sha256(sie).hexdigest()}},
    )
    return BatchOutput(sie, batch), notices + batch.notices


def export(
    plan: Plan,
    rendered: list[Rendered],
    targets: list[Path],
    ledger: Ledger,
    mapping: Mapping,
    mapping_path: Path,
    run: int,
    command: str = "",
) -> list[int]:
    """Put each rendered part at its target and record the plan's vouchers; returns the
    export ids. Every part is recorded pending before any file is put in place and marked
    done after all are: a crash between leaves each part to be settled by its own file. A
    SIE file is written beside its target before its record, which names that temp file: a
    pending export whose temp file is gone was put in place, even if its file was moved
    away since (`Ledger.recover`)."""
    from bokfor.fortnox.batch import MANIFEST, write_files

    changed = {key for e in plan.changed if e.voucher for key in e.voucher.source_keys}
    trail = plan.trail(mapping, command)
    faults.point("before-ledger")
    ids: list[int] = []
    staged: list[Path | None] = []
    _ = ledger.conn  # made now if new: a ledger that cannot be made leaves no file or folder
    try:
        for r, path in zip(rendered, targets, strict=True):
            staged.append(None if isinstance(r.data, BatchOutput) else write_beside(path, r.data))
        for r, path, tmp in zip(rendered, targets, staged, strict=True):
            vouchers = r.part.vouchers(plan.to_write)
            batch = r.data.batch if isinstance(r.data, BatchOutput) else None
            ids.append(
                ledger.begin_export(
                    mapping=mapping_path,
                    target=path if batch is None else path / MANIFEST,
                    sha256=r.sha256,
                    vouchers=vouchers,
                    spool=plan.spool,
                    tags=[plan.tags[i] for i in r.part.indices],
                    kind=SIE if batch is None else BATCH,
                    # Only changed rows are replaced: no walk over every key when none changed.
                    replaced=[k for v in vouchers for k in v.source_keys if k in changed]
                    if changed
                    else [],
                    run=run,
                    files=[tmp.name]
                    if tmp is not None
                    else [BATCH_SIE, *(name for name, _ in batch.files)]
                    if batch is not None
                    else (),
                    learned=plan.learned if not ids else [],
                    trail=trail,
                )
            )
    except BaseException:
        # A part recorded pending keeps its temp file: its export is dropped by the next
        # run, which finds the file never put in place. So does the part being recorded if
        # its record was committed (a Ctrl-C as begin_export returns). The others' are
        # nobody's.
        for at, tmp in enumerate(staged[len(ids) :], start=len(ids)):
            if tmp is not None and not (at == len(ids) and ledger.names_pending(tmp.name)):
                remove_quietly(tmp)
        raise
    faults.point("after-ledger-pending")
    placed = 0
    try:
        for r, path, tmp in zip(rendered, targets, staged, strict=True):
            if isinstance(r.data, BatchOutput):
                atomic_write(path / BATCH_SIE, r.data.sie)
                write_files(r.data.batch, path)
            else:
                assert tmp is not None  # written beside it above
                put_in_place(tmp, path, replace=False)
            placed += 1
    except OutputError:
        # This run knows which SIE files are not in place: their exports go now, not at the
        # next run's recovery, which could not tell a temp file gone from a file moved away.
        # (A batch's part stays pending: recovery removes the files it wrote.)
        for export_id, r, path, tmp in zip(
            ids[placed:], rendered[placed:], targets[placed:], staged[placed:], strict=True
        ):
            if tmp is not None and file_sha256(path) != r.sha256:  # else it is there
                _forget_unplaced(ledger, export_id, tmp)
        raise
    faults.point("after-rename")
    for export_id, r, path in zip(ids, rendered, targets, strict=True):
        ledger.finish_export(
            export_id, path / MANIFEST if isinstance(r.data, BatchOutput) else path
        )
    faults.point("after-ledger-done")
    return ids


def _forget_unplaced(ledger: Ledger, export_id: int, tmp: Path) -> None:
    """Forget the export of a SIE file that was not put in place, and remove its temp file.
    Where the ledger refuses (busy, full), the temp file is left, or made again if it is
    gone, so that the next run finds the file never put in place and books the rows."""
    try:
        ledger.forget(export_id)
    except BokforError:
        with open(tmp, "ab"):
            pass
        return
    remove_quietly(tmp)


def check_batch_dir(directory: Path) -> None:
    """A batch goes to a new or empty directory: bokfor never mixes its files with others
    there, and never removes a file it did not write."""
    from bokfor.fortnox.batch import MANIFEST

    if directory.exists() and not directory.is_dir():
        raise UsageError(
            f"--out {directory} is a file; --format fortnox writes a directory",
            hint="name a new directory.",
        )
    if (directory / MANIFEST).exists():
        raise UsageError(
            f"{directory} already holds a batch ({MANIFEST})",
            hint="give each batch a directory of its own, e.g. --out 'batches/{run}'.",
        )
    if directory.is_dir() and any(directory.iterdir()):
        raise UsageError(
            f"{directory} is not empty; a batch needs a directory of its own",
            hint="name a new directory, e.g. --out 'batches/{run}'.",
        )


# Every run checks the files written in this many days are still there as written: long
# enough to cover a month's import, short enough that files archived since say nothing.
RECENT_DAYS = 62


def file_notices(missing: list[tuple[ExportRecord, str]], ledger: Ledger) -> list[Notice]:
    """What `Ledger.missing_files` found, as the user must hear it: a file deleted before it
    was imported holds vouchers that are nowhere else."""
    return [
        Caution(
            f"export {e.id}'s file {e.target} ({e.vouchers} verifikationer {e.first_date} .. "
            f"{e.last_date}) was {what} after bokfor wrote it: "
            + (
                "if it was not imported into the books, run `bokfor ledger forget "
                f"{e.id} --yes` and convert again to write it anew; if it was, `bokfor ledger "
                f"imported {e.id}`"
                if what == "deleted"
                else "import only what bokfor wrote (`bokfor ledger verify` checks every file); "
                f"once it is imported, `bokfor ledger imported {e.id}`"
            ),
            file=str(ledger.path),
        )
        for e, what in missing
    ]


@dataclass
class Job:
    """One plan-or-convert invocation: inputs, the mapping, the ledger and the options."""

    inputs: list[Path]
    mapping: Mapping
    mapping_path: Path
    ledger_path: Path
    source: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    correct: bool = False
    books: Path | None = None
    allow_new_accounts: bool = False
    wait: float = 60.0
    checksum: bool = False
    generated: dt.date = dt.date(1970, 1, 1)
    notices: list[Notice] = field(default_factory=list)
    fmt: str = "sie"  # or "fortnox": a batch directory (SIE 4I + POST bodies)
    # The books from elsewhere (Fortnox's SIE export) instead of the `books` file.
    books_loader: Callable[[Plan], SieDocument] | None = None
    # Settles pushes an interrupted `bokfor push` left pending (needs Fortnox; push.settle).
    settle: Callable[[Ledger], list[Notice]] | None = None
    bank_account: str | None = None  # of bank files that name none (--bank-account)
    progress: Callable[[str, int], None] | None = None  # plan.Progress: rows read so far
    strict: bool = False  # --strict: doubts and backwards postings refuse the run
    other_account: bool = False  # --other-account (plan._Movements.renamed_error)
    command: str = ""  # the command line, for the trail (what the run recorded came from)

    def plan(self, *, exported: bool = False) -> tuple[Plan, tuple[int, int, int, int]]:
        """The plan, made without holding the lock (a failing run creates no file), and the
        ledger state it was made against; `exported` adds the `=` entries."""
        ledger = Ledger.open(self.ledger_path)
        if ledger.state()[2]:  # a crashed run left a pending export: settle it first
            ledger.close()
            with Ledger.lock(self.ledger_path, self.wait):
                ledger = Ledger.open(self.ledger_path, write=True)
                self.settle_all(ledger)
        self.notices.extend(file_notices(ledger.missing_files(days=RECENT_DAYS), ledger))
        try:
            # The state first: an export committed while the plan reads the ledger then moves
            # it, and `write` plans again. Read after the plan, it could already include that
            # export while the plan did not, and the rows would be exported twice.
            with ledger.snapshot():
                state = ledger.state()
                plan = self._plan(ledger)
            if exported:
                plan.add_exported(ledger)
            return plan, state
        finally:
            ledger.close()

    def _plan(self, ledger: Ledger) -> Plan:
        result = make_plan(
            self.inputs,
            self.mapping,
            ledger,
            source=self.source,
            date_from=self.date_from,
            date_to=self.date_to,
            correct=self.correct,
            bank_account=self.bank_account,
            progress=self.progress,
            other_account=self.other_account,
        )
        if self.books_loader is not None:
            if result.to_write:
                check_books(result, self.books_loader(result))
        elif self.books is not None:
            from bokfor.sie.reader import read as read_sie

            check_books(result, read_sie(self.books).document)
        return result

    def settle_all(self, ledger: Ledger) -> None:
        """Settle what crashed runs left pending (the caller holds the lock): SIE files and
        batches from the disk, pushes against Fortnox."""
        self.notices.extend(ledger.recover())
        if ledger.state()[2]:
            if self.settle is None:
                from bokfor.ledger import LedgerError

                raise LedgerError(
                    f"an interrupted push left {ledger.pending_pushes()} vouchers pending",
                    file=str(ledger.path),
                    hint="run `bokfor push` (with the Fortnox credentials) to settle them first.",
                )
            self.notices.extend(self.settle(ledger))

    def refuse_doubtful(self, plan: Plan) -> None:
        """--strict: backwards postings and rows that may be booked already refuse the run,
        also in a plan made again under the lock."""
        if self.strict:
            refuse(plan.notices)
            refuse_cautions(plan.notices)

    def check(self, plan: Plan) -> tuple[list[Rendered], list[Notice]] | None:
        """Refuse a plan that must not be written; None when there is nothing new; else each
        fiscal year's SIE file or batch, rendered (in dry runs too, so they show the same
        errors)."""
        if self.fmt == "fortnox" and self.books is not None:
            plan.missing_accounts = []  # the pre-flight below names them, with the vouchers
        check_plan(plan, correct=self.correct, allow_new_accounts=self.allow_new_accounts)
        self.refuse_doubtful(plan)
        if not plan.to_write:
            return None
        if self.fmt == "fortnox" and self.books is not None:
            from bokfor.fortnox.preflight import registers_from_sie
            from bokfor.push import preflight

            preflight(
                plan.to_write,
                registers_from_sie(self.books),
                where=f"the books {self.books}",
                allow_new_accounts=self.allow_new_accounts,
            )
        rendered, notices = [], []
        for n, part in enumerate(plan.parts):
            data, said = (
                render_batch(plan, self.mapping, self.generated, part=part, checksum=self.checksum)
                if self.fmt == "fortnox"
                else render_plan(
                    plan, self.mapping, self.generated, part=part, n=n, checksum=self.checksum
                )
            )
            rendered.append(Rendered(part, data))
            notices += said
        return rendered, notices

    def targets(self, plan: Plan, out: str, run: int | None) -> list[Path]:
        """Where each part goes: `out` with its fields filled in (`{run}` left as it is when
        `run` is None, for a preview), through links to where the bytes will be."""
        sources = "+".join(dict.fromkeys(s.source for s in plan.inputs))
        return [
            resolved(
                target(
                    out, part, plan.to_write, several=len(plan.parts) > 1, run=run, sources=sources
                )
            )
            for part in plan.parts
        ]

    def check_targets(self, targets: list[Path], ledger: Ledger | None) -> None:
        """Refuse to write over an earlier export's file or any other file that is there,
        a file twice in one run, or anything that is not a regular file (a directory, for a
        batch). `ledger` None: before the lock is taken, so that a refused run leaves nothing
        behind (no lock file, no ledger); the ledger is read as it is then."""
        from bokfor.fortnox.batch import MANIFEST

        if ledger is None:
            reader = Ledger.open(self.ledger_path)
            try:
                self.check_targets(targets, reader)
            finally:
                reader.close()
            return
        batch = self.fmt == "fortnox"
        for i, path in enumerate(targets):
            if path in targets[:i]:
                raise UsageError(
                    f"--out gives {path} for two fiscal years", hint="put {year} in --out."
                )
            check_writable(path, directory=batch)
            check_not_own(path, self.own_files())
            if batch:
                check_batch_dir(path)
            earlier = ledger.export_at(path / MANIFEST if batch else path)
            if earlier is not None:
                example = "'batches/{run}'" if batch else "'out/bokfor-{run}.si'"
                raise OutputReused(
                    f"--out holds export {earlier.id} ({earlier.created[:10]}, "
                    f"{earlier.vouchers} verifikationer {earlier.first_date} .. "
                    f"{earlier.last_date}): writing it again would replace vouchers that may "
                    "not be imported yet",
                    file=str(path),
                    hint=f"give each run {'a directory' if batch else 'a file'} of its own, "
                    f'e.g. --out {example} (docs/ledger.md, "Cron"); if export '
                    f"{earlier.id} was undone in the books, `bokfor ledger forget "
                    f"{earlier.id} --yes` first.",
                )
            if not batch and os.path.lexists(path):
                # Another job's export (its own ledger), a link to a file elsewhere, a file
                # of the user's: replaced, it would be lost, and another ledger would record
                # rows as exported that are in no file any more.
                raise OutputReused(
                    "--out names an existing file that no export of this ledger wrote: "
                    "bokfor never writes over it",
                    file=str(path),
                    hint="give each run a file of its own, e.g. --out 'out/bokfor-{run}.si' "
                    "(and another folder for another ledger's job); if the file is not "
                    "needed, move it away first.",
                )

    def own_files(self) -> dict[str, Path]:
        """The files a run must never write over: its ledger (and SQLite's and the lock's
        files beside it: the write-ahead log holds its last commits), mapping, rate file,
        books and inputs."""
        rates = self.mapping.rates.file
        return {
            **ledger_files(self.ledger_path),
            "the mapping": self.mapping_path,
            **({"the mapping's rate file": rates} if rates is not None else {}),
            **({"the books (--books)": self.books} if self.books is not None else {}),
            **{f"an input ({p})": p for p in self.inputs if p.is_file()},
        }

    def learn(self, plan: Plan) -> None:
        """A run that found nothing new still records the keys it learned (`Plan.learned`)."""
        if plan.learned:
            with Ledger.lock(self.ledger_path, self.wait):
                ledger = Ledger.open(self.ledger_path, write=True)
                try:
                    ledger.learn(plan.learned)
                finally:
                    ledger.close()

    def write(
        self, plan: Plan, state: tuple[int, int, int, int], rendered: list[Rendered], out: str
    ) -> tuple[Plan, list[int], list[Path]] | None:
        """Export under the lock. If another run changed the ledger since `plan` was made,
        plan again first; None when that leaves nothing new."""
        with Ledger.lock(self.ledger_path, self.wait):
            ledger = Ledger.open(self.ledger_path, write=True)
            try:
                self.settle_all(ledger)
                if ledger.state() != state:
                    plan.close()
                    plan = self._plan(ledger)
                    self.notices.extend(plan.notices)  # the caller shows these after
                    checked = self.check(plan)
                    if checked is None:
                        return None
                    rendered = checked[0]
                run = ledger.next_run()
                targets = self.targets(plan, out, run)
                self.check_targets(targets, ledger)
                ids = export(
                    plan,
                    rendered,
                    targets,
                    ledger,
                    self.mapping,
                    self.mapping_path,
                    run,
                    self.command,
                )
                return plan, ids, targets
            finally:
                ledger.close()
