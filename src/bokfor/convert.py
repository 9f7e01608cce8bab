"""Carry out a plan: write the SIE file and record it in the ledger, crash-safely.

The order is what makes a re-run safe (docs/ledger.md): record the export as pending and
commit; write the file (temp + fsync + rename); mark the export done. A crash anywhere is
settled by `Ledger.recover` on the next run, from whether the file holds the recorded bytes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Union

from bokfor import faults
from bokfor.domain import Notice
from bokfor.errors import MappingError, UsageError
from bokfor.fileio import Staged, atomic_write, stage
from bokfor.ledger import BATCH, Ledger
from bokfor.mapping import Mapping
from bokfor.plan import Plan, check_books, make_plan
from bokfor.sie.model import SieDocument
from bokfor.sie.reader import read as read_sie
from bokfor.sie.writer import render, render_to

FORTNOX_TEXT_LIMIT = 50  # Fortnox's SIE import refuses longer voucher and row texts
BATCH_SIE = "vouchers.si"


@dataclass
class BatchOutput:
    """`--format fortnox`: the SIE 4I file and the POST bodies, all in one directory (held
    in memory: a batch is what one Fortnox import takes, not a year of bank rows)."""

    sie: bytes
    batch: object  # bokfor.fortnox.batch.Batch


Output = Union[Staged, BatchOutput]


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
            details=[f"  ~ {e.detail}" for e in plan.changed])
    if plan.missing_accounts and not allow_new_accounts:
        raise MappingError(
            f"account{'s' if len(plan.missing_accounts) > 1 else ''} "
            f"{', '.join(plan.missing_accounts)} not in the books' chart of accounts (--books)",
            key="accounts",
            hint="fix the mapping, create the accounts in the books, or add "
            "--allow-new-accounts (the SIE import then creates them).")


def render_plan(plan: Plan, mapping: Mapping, generated: dt.date, *, checksum: bool
                ) -> tuple[Staged, list[Notice]]:
    """The SIE file, written to the plan's scratch directory: it is copied into place by
    `export` and removed with the plan."""
    doc = plan.document(mapping, generated)
    return stage(plan.spool.scratch("output.si"), lambda out: render_to(
        doc, out, checksum=checksum, text_limit=mapping.text_limit))


def render_batch(plan: Plan, mapping: Mapping, generated: dt.date, *, checksum: bool
                 ) -> tuple[BatchOutput, list[Notice]]:
    """The Fortnox batch: SIE 4I with Fortnox's import rules (one financial year, texts of at
    most 50 characters, the mapping's series) plus one `POST /3/vouchers` body per voucher."""
    from bokfor.fortnox.batch import build_batch

    limit = min(mapping.text_limit or FORTNOX_TEXT_LIMIT, FORTNOX_TEXT_LIMIT)
    sie, notices = render(plan.document(mapping, generated), checksum=checksum,
                          text_limit=limit)
    batch = build_batch(plan.to_write, extra={"sie": {
        "file": BATCH_SIE, "sha256": hashlib.sha256(sie).hexdigest()}})
    return BatchOutput(sie, batch), notices + batch.notices


def export(plan: Plan, data: Output, out: Path, ledger: Ledger, mapping_path: Path) -> int:
    """Put `data` at `out` and record the plan's vouchers; returns the export id."""
    if isinstance(data, BatchOutput):
        return export_batch(plan, data, out, ledger, mapping_path)
    faults.point("before-ledger")
    export_id = ledger.begin_export(mapping=mapping_path, target=out, sha256=data.sha256,
                                    vouchers=plan.to_write, spool=plan.spool, tags=plan.tags,
                                    replaced=_replaced(plan))
    faults.point("after-ledger-pending")
    atomic_write(out, data)
    faults.point("after-rename")
    ledger.finish_export(export_id)
    faults.point("after-ledger-done")
    return export_id


def export_batch(plan: Plan, data: BatchOutput, directory: Path, ledger: Ledger,
                 mapping_path: Path) -> int:
    """The batch as one export: recorded pending with the manifest's digest, then the SIE
    file and the bodies, the manifest last (each temp + fsync + rename), then done. A crash
    is settled like a SIE export, from whether the manifest holds the recorded bytes."""
    from bokfor.fortnox.batch import MANIFEST, write_files

    check_batch_dir(directory)
    faults.point("before-ledger")
    export_id = ledger.begin_export(
        mapping=mapping_path, target=directory / MANIFEST,
        sha256=hashlib.sha256(data.batch.manifest).hexdigest(),  # type: ignore[attr-defined]
        vouchers=plan.to_write, spool=plan.spool, tags=plan.tags, kind=BATCH,
        replaced=_replaced(plan))
    faults.point("after-ledger-pending")
    atomic_write(directory / BATCH_SIE, data.sie)
    write_files(data.batch, directory)  # type: ignore[arg-type]
    faults.point("after-rename")
    ledger.finish_export(export_id)
    faults.point("after-ledger-done")
    return export_id


def _replaced(plan: Plan) -> list[str]:
    """Rows exported before that the export records again: the changed ones (--correct)."""
    return [key for e in plan.changed if e.voucher for key in e.voucher.source_keys]


def check_batch_dir(directory: Path) -> None:
    from bokfor.fortnox.batch import MANIFEST

    if directory.exists() and not directory.is_dir():
        raise UsageError(f"--out {directory} is a file; --format fortnox writes a directory",
                         hint="name a new directory.")
    if (directory / MANIFEST).exists():
        raise UsageError(f"{directory} already holds a batch ({MANIFEST})",
                         hint="give each batch a directory of its own, e.g. --out "
                         "batches/2026-02.")


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

    def plan(self, *, exported: bool = False) -> tuple[Plan, tuple[int, int, int, int]]:
        """The plan, made without holding the lock (a failing run creates no file), and the
        ledger state it was made against; `exported` adds the `=` entries."""
        ledger = Ledger.open(self.ledger_path)
        if ledger.state()[2]:  # a crashed run left a pending export: settle it first
            ledger.close()
            with Ledger.lock(self.ledger_path, self.wait):
                ledger = Ledger.open(self.ledger_path, write=True)
                self.settle_all(ledger)
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
        result = make_plan(self.inputs, self.mapping, ledger, source=self.source,
                           date_from=self.date_from, date_to=self.date_to,
                           correct=self.correct, bank_account=self.bank_account,
                           progress=self.progress)
        if self.books_loader is not None:
            if result.to_write:
                check_books(result, self.books_loader(result))
        elif self.books is not None:
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
                    file=str(ledger.path), hint="run `bokfor push` (with the Fortnox "
                    "credentials) to settle them first.")
            self.notices.extend(self.settle(ledger))

    def check(self, plan: Plan) -> tuple[Output, list[Notice]] | None:
        """Refuse a plan that must not be written; None when there is nothing new; else the
        SIE bytes or the batch (rendered in dry runs too, so they show the same errors)."""
        if self.fmt == "fortnox" and self.books is not None:
            plan.missing_accounts = []  # the pre-flight below names them, with the vouchers
        check_plan(plan, correct=self.correct, allow_new_accounts=self.allow_new_accounts)
        if not plan.to_write:
            return None
        if self.fmt == "fortnox":
            if self.books is not None:
                from bokfor.fortnox.preflight import registers_from_sie
                from bokfor.push import preflight

                preflight(plan.to_write, registers_from_sie(self.books),
                          where=f"the books {self.books}",
                          allow_new_accounts=self.allow_new_accounts)
            return render_batch(plan, self.mapping, self.generated, checksum=self.checksum)
        return render_plan(plan, self.mapping, self.generated, checksum=self.checksum)

    def write(self, plan: Plan, state: tuple[int, int, int, int], data: Output, out: Path
              ) -> tuple[Plan, int] | None:
        """Export under the lock. If another run changed the ledger since `plan` was made,
        plan again first; None when that leaves nothing new."""
        with Ledger.lock(self.ledger_path, self.wait):
            ledger = Ledger.open(self.ledger_path, write=True)
            try:
                self.settle_all(ledger)
                if ledger.state() != state:
                    plan.close()
                    plan = self._plan(ledger)
                    checked = self.check(plan)
                    if checked is None:
                        return None
                    data = checked[0]
                return plan, export(plan, data, out, ledger, self.mapping_path)
            finally:
                ledger.close()
