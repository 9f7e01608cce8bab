"""The plan: what a run would do, before it does anything (a dry-run diff).

Every source row is classified against the export ledger by its stable key:
- new: never exported -> booked now (`+`);
- exported: same key, same content -> skipped, shown as the voucher it went into (`=`);
- changed: same key, different content -> never silently re-booked (`~`); with
  `correct=True` a reversal of what was booked plus a new booking;
- unmapped: no rule matches (`!`).
Nothing is ever skipped by date or by amount similarity. `convert` executes exactly the
plan's `to_write` vouchers, so a plan and the run that follows agree.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import heapq
import itertools
import os
import stat
from array import array
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from bokfor.booking import (
    PENDING,
    SKIPPED,
    ZERO,
    Booking,
    RowSink,
    book,
    book_pos,
    unmapped_error,
    unmapped_kinds,
)
from bokfor import engine
from bokfor.fileio import open_nowait
from bokfor.classify import Sorter, content_of, same_content
from bokfor.domain import Caution, Line, Notice, Origin, Row, Voucher, VoucherColumns
from bokfor.errors import BokforError, InputError, MappingError, UsageError
from bokfor.ledger import (
    SAME_LINES,
    InputFile,
    Ledger,
    RowRecord,
    Trail,
    lines_to_json,
    paused_gc,
)
from bokfor.mapping import BankAccounts, Mapping, SourceRules
from bokfor.money import format_sek, format_sie
from bokfor.outputs import Part, split_years
from bokfor.posbook import RunGaps
from bokfor.sie.model import SieDocument
from bokfor.spool import RecordSpool
from bokfor.sources import NotFramed, Schema, Source, detect_source, get_source
from bokfor.sources.bank import SECTION as BANK
from bokfor.sources.pos import SECTION as POS
from bokfor.sources.pos import Z as POS_Z

if TYPE_CHECKING:  # a run of row-reading sources never imports Polars
    import polars as pl

    from bokfor.postings import FrameSink

NEW, EXPORTED, CHANGED, UNMAPPED, CORRECTION = "+", "=", "~", "!", "-"

Progress = Callable[[str, int], None]  # (input path, rows read so far)
Skip = Callable[[int, int, str, str], None]  # RecordSpool.skip: (input, line, key, reason)


@dataclass
class InputSummary:
    path: str
    source: str
    rows: int = 0
    outside: int = 0  # rows outside --from/--to
    also: dict[str, int] = field(default_factory=dict)  # rows also in an earlier input: path -> n
    exported: int = 0  # rows exported before with the same content
    changed: int = 0
    unmapped: int = 0
    zero: int = 0  # rows whose amounts are all 0.00
    pending: int = 0  # rows waiting for a payout (per_payout grouping)
    skipped: dict[str, int] = field(default_factory=dict)  # by rules with skip: true
    vouchers: int = 0  # new vouchers from this input
    sha256: str = ""  # of the bytes read
    size: int = 0


@dataclass(slots=True)  # one a new voucher: half the size without a __dict__
class Entry:
    """One line of the plan. `voucher` is what is (or was) booked; for a changed row,
    `previous` holds the lines booked before and `voucher` the booking it would get now."""

    status: str
    voucher: Voucher | None
    detail: str = ""
    previous: tuple[Line, ...] = ()
    possibly_booked: str | None = None  # "A 45" when --books has a voucher like it


@dataclass
class Plan:
    # The entries but the new vouchers' (`entries` has them all): a kind of unmapped row,
    # a changed row.
    listed: list[Entry]
    inputs: list[InputSummary]
    # Corrections (the first `corrections`), then the new vouchers in date order: a list,
    # or the columns of a voucher a row booked as columns (domain.VoucherColumns).
    to_write: Sequence[Voucher]
    # The rows each voucher records, on disk: to_write[i]'s are tagged tags[i] in the spool.
    spool: RecordSpool
    tags: list[int] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    errors: list[BokforError] = field(default_factory=list)  # unmapped rows, renamed rows
    changed: list[Entry] = field(default_factory=list)
    # The run's vouchers by fiscal year: one file (or batch) each (bokfor.outputs).
    parts: list[Part] = field(default_factory=list)
    missing_accounts: list[str] = field(default_factory=list)  # not in --books' chart
    # (key, former key) of rows found by a key of an earlier scheme: recorded by the run, so
    # that they are found however the file is read next time (Ledger.learn).
    learned: list[tuple[str, str]] = field(default_factory=list)
    # Vouchers that already hold this run's exported rows; as `=` entries only on request
    # (`add_exported`): a re-run of a large export need not rebuild them to count them.
    exported_ids: set[int] = field(default_factory=set)
    exported: list[Entry] = field(default_factory=list)  # those `=` entries, in date order
    corrections: int = 0
    # to_write's index -> "A 45": a new voucher --books has one like (check_books).
    possibly_booked: dict[int, str] = field(default_factory=dict)

    def trail(self, mapping: Mapping, command: str) -> Trail:
        """What the run's export records of how it came about (a row record's `input`
        indexes the files here)."""
        return Trail(
            command,
            mapping.text,
            mapping.sha256,
            tuple(
                InputFile(str(Path(s.path).resolve()), s.sha256, s.size, s.source)
                for s in self.inputs
            ),
        )

    def records_of(self, i: int) -> list[RowRecord]:
        """The rows `to_write[i]` records, in its `source_keys` order (a push records one
        voucher at a time)."""
        place = {key: n for n, key in enumerate(self.to_write[i].source_keys)}
        return sorted(self.spool.records(self.tags[i]), key=lambda r: place.get(r.key, -1))

    def close(self) -> None:
        """Remove the spool (also done when the plan is collected)."""
        self.spool.close()

    def count(self, status: str) -> int:
        if status == EXPORTED:
            return len(self.exported_ids)
        if status == NEW:
            return len(self.to_write) - self.corrections
        return sum(1 for e in self.listed if e.status == status)

    @property
    def entries(self) -> list[Entry]:
        """Every entry of the plan, in date order (an unmapped kind first)."""
        return list(self.iter_entries())

    def iter_entries(self) -> Iterator[Entry]:
        """`entries` one at a time: a new voucher held as columns is made when reached.
        In date order; of one date the listed entries, then the new, then the exported (as
        one stable sort of them all)."""
        like = self.possibly_booked
        new = (
            Entry(NEW, v, possibly_booked=like.get(i))
            for i, v in enumerate(
                itertools.islice(self.to_write, self.corrections, None), self.corrections
            )
        )
        return heapq.merge(
            sorted(self.listed, key=_entry_date), new, self.exported, key=_entry_date
        )

    def add_exported(self, ledger: Ledger) -> None:
        """Add the `=` entries, rebuilt from the ledger, in date order."""
        if self.exported:
            return
        self.exported = [
            Entry(EXPORTED, v)
            for _, v in sorted(
                ledger.vouchers(self.exported_ids).items(), key=lambda kv: kv[1].date
            )
        ]

    def document(self, mapping: Mapping, generated: dt.date, part: Part) -> SieDocument:
        """The SIE 4I file of one part (fiscal year) of the run."""
        from bokfor import __version__

        return SieDocument(
            company=mapping.company,
            sie_type="4I",
            program=("bokfor", __version__),
            generated=generated,
            fiscal_years=[part.year],
            accounts=mapping.accounts,
            dimensions=mapping.dimensions,
            objects=mapping.objects,
            vouchers=part.vouchers(self.to_write),
        )


def _entry_date(entry: Entry) -> dt.date:
    return entry.voucher.date if entry.voucher else dt.date.min


def make_plan(
    inputs: list[Path],
    mapping: Mapping,
    ledger: Ledger,
    *,
    source: str | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    correct: bool = False,
    bank_account: str | None = None,
    progress: Progress | None = None,
    other_account: bool = False,
) -> Plan:
    """`bank_account`: the account of bank files that name none (two SEB accounts' CSVs are
    told apart only so). `progress(path, rows)` is called every 16,384 rows read.
    `other_account`: rows exported under another name of their bank account are another
    account's (`_Movements.renamed_error`)."""
    _check_inputs(inputs)
    prints = [_fingerprint(path) for path in inputs]
    sources = [
        get_source(source, mapping.formats) if source else detect_source(path, mapping.formats)
        for path in inputs
    ]
    by_columns = engine.POLARS and len(inputs) == 1 and not correct and not bank_account
    _check_sizes(inputs, sources, mapping, grouped_ok=by_columns)
    overlap = None
    if len(inputs) > 1:
        overlap = _Overlap()
        for index, (path, src) in enumerate(zip(inputs, sources, strict=True)):
            overlap.scan(
                index,
                src,
                (item for item in _read(src, path, mapping, bank_account) if isinstance(item, Row)),
            )
        conflict = None if correct else overlap.error()
        if conflict is not None:
            raise conflict
    # Sources that read into frames read so (`Sorter.frames`), where Polars may run (engine);
    # a file such a source's row reader must read (NotFramed, perhaps from a later batch)
    # starts the plan over by rows.
    for framed in (True, False) if engine.POLARS else (False,):
        if not framed and by_columns:  # a file frames cannot read is planned by rows
            _check_sizes(inputs, sources, mapping, grouped_ok=False)
        spool, seen = RecordSpool(), _Seen(overlap)
        try:
            with paused_gc():  # several objects a row: see paused_gc
                try:
                    plan = _plan_inputs(
                        inputs,
                        sources,
                        mapping,
                        ledger,
                        spool,
                        seen,
                        date_from=date_from,
                        date_to=date_to,
                        correct=correct,
                        bank_account=bank_account,
                        progress=progress,
                        other_account=other_account,
                        framed=framed,
                    )
                except NotFramed:
                    if not framed:
                        raise
                    spool.close()
                    continue
                except BokforError:
                    # A key or alias seen twice is the error to fix first: others may follow
                    # from it.
                    seen.check(mapping, bank_account, complete=False)
                    raise
                seen.check(mapping, bank_account)
                for path, summary, (sha256, stamp) in zip(inputs, plan.inputs, prints, strict=True):
                    _unchanged(path, stamp)
                    summary.sha256, summary.size = sha256, stamp[0] if stamp else 0
                plan.parts = split_years(plan.to_write, mapping.fiscal_year_of)
                return plan
        except BaseException:
            spool.close()
            raise
    raise AssertionError("a plan by rows raised NotFramed")  # pragma: no cover


def _plan_inputs(
    inputs: list[Path],
    sources: list[Source],
    mapping: Mapping,
    ledger: Ledger,
    spool: RecordSpool,
    seen: _Seen,
    *,
    date_from: dt.date | None,
    date_to: dt.date | None,
    correct: bool,
    bank_account: str | None,
    progress: Progress | None,
    other_account: bool = False,
    framed: bool = True,
) -> Plan:
    plan = Plan(listed=[], inputs=[], to_write=[], spool=spool)
    corrections: list[tuple[Voucher, int]] = []
    booked: list[tuple[Sequence[Voucher], list[int]]] = []  # each input's vouchers, tags
    next_tag = 0
    exported_ids: set[int] = set()
    closes: list[object] = []  # POS day closes of the run
    pos_gaps = RunGaps()  # accounts the mapping lacks for them, over every input
    movements = _Movements()
    payouts = _Payouts()
    for index, (path, src) in enumerate(zip(inputs, sources, strict=True)):
        pos = src.section == POS
        rules = None if pos else mapping.for_source(src.section)
        checked = payouts.start(src, rules, ledger)
        summary = InputSummary(str(path), src.name)
        plan.inputs.append(summary)
        overlap = seen.read(path, src)
        now_lines: dict[str, tuple[Line, ...]] = {}  # what changed rows are booked to now
        sorter = Sorter(ledger, src.name, src.schema, exported_ids, plan.learned)
        if checked:
            sorter.on_exported = payouts.exported
        ledger.expect(_size(path))  # 0 if gone meanwhile: its reader says so
        outside = functools.partial(_skip_outside, spool, index)
        read_frames = _frame_reader(src, path, rules, framed, correct)
        todo: Iterable[Row]  # a list for POS, below
        offset = next_tag
        booking: Booking | None = None
        if (
            read_frames is not None
            and seen.overlap is None
            and not (bank_account and src.section == BANK)
        ):
            # A source that reads into row frames: counted, checked and sorted a frame at a
            # time; booked as columns where its rules allow (postings.columnar), else only the
            # rows to book become `Row` objects.
            stages = _frame_stages(
                read_frames(path, mapping.timezone),
                summary,
                seen,
                (date_from, date_to),
                functools.partial(spool.skip, index),
                progress,
                plan.notices,
            )
            from bokfor import postings

            if rules is not None and not correct and postings.columnar(rules, src.schema):
                if src.section == BANK:
                    movements.start(src.name, rules)
                sink = _frame_recorder(
                    spool,
                    offset,
                    src.name,
                    index,
                    movements if src.section == BANK else None,
                    payouts if checked else None,
                )
                booking = postings.book_frames(
                    sorter.new_frames(stages), rules, mapping, src.schema, sink
                )
                todo = ()
            else:
                todo = sorter.frames(stages)
        else:
            todo = sorter.rows(
                _in_range(
                    seen.added(
                        overlap(
                            _count(
                                _read(src, path, mapping, bank_account),
                                summary,
                                plan.notices,
                                progress,
                            ),
                            summary,
                            spool.skip,
                        )
                    ),
                    date_from,
                    date_to,
                    summary,
                    outside,
                )
            )
        if correct:
            todo = itertools.chain(todo, sorter.changed_rows(now_lines))
        if pos:
            todo = list(todo)  # read whole: the Z series is checked over the run
        moves = None
        if src.section == BANK and rules is not None:
            moves = movements
            if booking is None:  # else booked by columns, started above
                moves.start(src.name, rules)
        if booking is None:
            on_row = _recorder(
                spool,
                offset,
                src.name,
                sorter.contents,
                now_lines,
                moves,
                index,
                payouts if checked else None,
            )
            booking = (
                book_pos(todo, mapping, on_row, pos_gaps)
                if rules is None
                else book(todo, rules, mapping, src.schema, on_row)
            )
        next_tag = offset + len(booking.tags)
        if checked:
            payouts.read(booking.pending)
        summary.changed, summary.exported = len(sorter.changed), sorter.exported
        series = (
            mapping.pos.series if rules is None and mapping.pos else rules.series if rules else ""
        )
        summary.zero, summary.pending = booking.zero_rows, len(booking.pending)
        summary.skipped = booking.skipped
        summary.vouchers = len(booking.vouchers)
        plan.notices.extend(booking.notices)
        if moves is not None:
            plan.notices.extend(moves.doubts(ledger, last=index == len(inputs) - 1))
        if booking.unmapped and rules is not None:
            summary.unmapped = sum(len(r) for r in booking.unmapped.values())
            plan.errors.append(unmapped_error(booking.unmapped, rules, mapping, src.schema))
            plan.listed.extend(
                Entry(UNMAPPED, None, f"{path}: {kind}")
                for kind in unmapped_kinds(booking.unmapped, src.schema)
            )
        for row, content in sorter.changed:
            entry = _changed_entry(
                row, content, ledger, now_lines.get(row.key, ()), series, src.schema
            )
            plan.changed.append(entry)
            plan.listed.append(entry)
            if correct:
                # The reversal records the row's new content with no lines; if the row is
                # booked again below, that voucher's record replaces this one. Either way
                # the ledger knows the new content, so the row is not "changed" next time.
                spool.add(
                    next_tag,
                    RowRecord(
                        row.key,
                        src.name,
                        content,
                        str(row.origin),
                        lines_to_json(()),
                        row.aliases,
                        rule="correction",
                        input=index,
                    ),
                )
                corrections.append((entry_reversal(entry, series), next_tag))
                next_tag += 1
        if booking.vouchers:
            booked.append((booking.vouchers, [offset + tag for tag in booking.tags]))
        if pos:
            closes += [row.detail for row in todo if row.fields.get("part") == POS_Z]
    pos_gaps.raise_if_any()  # what the mapping lacks for every day close: one error
    short, waiting = payouts.check(ledger)  # payouts whose rows are not all here
    plan.errors += short
    plan.notices += waiting
    renamed = None if other_account else movements.renamed_error()
    if renamed is not None:
        plan.errors.insert(0, renamed)
    if closes:  # a register's Z series over the whole run: a gap is a day not booked
        from bokfor.dayclose import z_gaps

        plan.notices.extend(z_gaps(closes))  # type: ignore[arg-type]
    plan.exported_ids = exported_ids
    plan.corrections = len(corrections)
    if not corrections and len(booked) == 1 and isinstance(booked[0][0], VoucherColumns):
        plan.to_write, plan.tags = booked[0]  # in date order, as booked
    else:
        new = [item for vouchers, tags in booked for item in zip(vouchers, tags, strict=True)]
        new.sort(key=lambda item: item[0].date)
        plan.to_write = [voucher for voucher, _ in corrections + new]
        plan.tags = [tag for _, tag in corrections + new]
    spool.flush()
    return plan


def content_dict(content: str, amount_names: Iterable[str] = ()) -> dict[str, str]:
    """A content text back as name -> value; the named amounts shown in kronor."""
    out: dict[str, str] = {}
    money = set(amount_names)
    for part in content.split("\x1f"):
        name, _, value = part.partition("=")
        out[name] = (
            format_sie(int(value)) if name in money and value.lstrip("-").isdigit() else value
        )
    return out


def entry_reversal(entry: Entry, series: str) -> Voucher:
    """Rättelse: the lines booked before, with opposite signs, dated as the row."""
    assert entry.voucher is not None
    key = entry.voucher.source_keys[0]
    return Voucher(
        series=series,
        date=entry.voucher.date,
        text=f"Rättelse {key}",
        lines=tuple(line._replace(amount=-line.amount) for line in entry.previous),
        source_keys=(key,),
    )


def _changed_entry(
    row: Row, content: str, ledger: Ledger, lines: tuple[Line, ...], series: str, schema: Schema
) -> Entry:
    old = ledger.row(row.key)
    assert old is not None
    before = content_dict(old.content, schema.amounts)
    after = content_dict(content, schema.amounts)
    diffs = [
        f"{name} {before.get(name)} -> {value}"
        for name, value in after.items()
        if before.get(name) != value
    ]
    detail = f"{row.key} at {row.origin}: " + ", ".join(diffs)
    export = ledger.export_of_row(row.key)
    if export:
        detail += f" (exported {export.created[:10]} to {export.target})"
    return Entry(
        CHANGED,
        Voucher(series, row.date, f"{row.key}", lines, (row.key,), origins=(row.origin,)),
        detail,
        old.lines,
    )


def _recorder(
    spool: RecordSpool,
    offset: int,
    source: str,
    contents: dict[str, str],
    now_lines: dict[str, tuple[Line, ...]],
    moves: _Movements | None,
    index: int,
    payouts: _Payouts | None = None,
) -> RowSink:
    """booking's `on_row`: a booked row's ledger record goes to the spool as it comes (its
    content leaves `contents`), with its rule and input (`index`: the plan's inputs); a row
    in no voucher, with why; a changed row's lines (`Sorter.changed_rows` put its key in `now_lines`)
    are kept for its `~` entry; a bank row's movement is noted (`moves`)."""

    def on_row(tag: int, row: Row, lines: tuple[Line, ...], own: bool, rule: str) -> None:
        key = row.key
        content = contents.pop(key, None)
        if now_lines and key in now_lines:
            now_lines[key] = lines
        if tag < 0:
            spool.skip(index, row.origin.line, key, _WHY[tag].format(rule=rule))
            return
        if content is None:
            # A POS input (classified whole before booking) giving one key twice, which the
            # run refuses (_Seen.check).
            return
        spool.add(
            offset + tag,
            RowRecord(
                key,
                source,
                content,
                str(row.origin),
                SAME_LINES if own else lines_to_json(lines),
                row.aliases,
                moves.add(row) if moves else payouts.add(row) if payouts else "",
                rule,
                index,
                # A day close's receipts (duck-typed: `detail` is any structured record).
                ranges(getattr(row.detail, "source_lines", ())),
            ),
        )

    return on_row


def _frame_reader(
    src: Source, path: Path, rules: SourceRules | None, framed: bool, correct: bool
) -> Callable[[Path, dt.tzinfo], Iterable[Any]] | None:
    """How the plan reads `path` into row frames, or None (by rows): a source's own
    `read_frames`; for a bank format without one (camt, MT940, BgMax, Nets), its rows in
    frames of 16,384 (`frames.batched`), which pays off only when booked by columns (rule
    matching and postings a row in Python otherwise cost more than the conversion saves).
    Small files are read by rows: importing Polars costs more than it saves."""
    if not framed or _size(path) < FRAMES_FROM:
        return None
    own = getattr(src, "read_frames", None)
    if own is not None or src.section != BANK or rules is None or correct:
        return own
    from bokfor import postings
    from bokfor.frames import batched

    if not postings.columnar(rules, src.schema):
        return None
    return lambda path, tz: batched(src.read(path, tz), src.schema)


def _frame_recorder(
    spool: RecordSpool,
    offset: int,
    source: str,
    index: int,
    moves: _Movements | None,
    payouts: _Payouts | None = None,
) -> FrameSink:
    """`_recorder` for rows booked as columns (bokfor.postings): their records and the rows
    in no voucher go to the spool a batch at a time; a bank row's movement is noted."""
    import polars as pl

    from bokfor.postings import FrameSink

    def records(frame: pl.DataFrame) -> None:
        tag = pl.col("tag") + offset
        if moves is not None:  # none without a bank account
            frame = frame.with_columns(
                _Movements.movement(pl.col("bank"), pl.col("date"), pl.col("money"))
            )
            moves.add_many(
                frame.filter(pl.col("movement").is_not_null()).select(
                    "movement", "key", "file", "line"
                )
            )
        elif payouts is not None:  # a row booked per payout: "payout:<id>" (_Payouts)
            paid = pl.col("group").is_not_null() & (pl.col("group") != "")
            payouts.add_frame(frame.filter(paid))
            frame = frame.with_columns(
                pl.when(paid).then(pl.lit(_Payouts.PREFIX) + pl.col("group")).alias("movement")
            )
        else:
            frame = frame.with_columns(pl.lit(None, pl.String).alias("movement"))
        spool.add_many(
            frame.select(
                tag,
                "key",
                pl.lit(source).alias("source"),
                "content",
                "origin",
                "lines",
                pl.col("movement").fill_null(""),  # bank rows only
                "rule",
                pl.lit(index).alias("input"),
                pl.lit("").alias("parts"),  # day closes only
            ).iter_rows(),
            frame.select(tag, "aliases", "key").explode("aliases").drop_nulls().iter_rows(),
        )

    def skipped(frame: pl.DataFrame) -> None:
        spool.skip_many(
            (index, line, key, _WHY[why].format(rule=rule))
            for line, key, why, rule in frame.iter_rows()
        )

    return FrameSink(records, skipped)


def ranges(lines: Iterable[int]) -> str:
    """Line numbers as compact ranges: (12, 13, 14, 15, 17) -> "12-15,17"."""
    out: list[str] = []
    start = prev = None
    for n in sorted(set(lines)):
        if prev is not None and n == prev + 1:
            prev = n
            continue
        if start is not None:
            out.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    if start is not None:
        out.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(out)


# Why a row read is in no voucher, as the trail says it (`skipped.reason`).
_WHY = {
    PENDING: "not paid out yet: booked with its payout ({rule})",
    SKIPPED: "{rule}: skip: true",
    ZERO: "every amount is 0.00 ({rule})",
}


# Bytes from which a source that reads into frames is read so: below, importing Polars (about
# 0.3 s of CPU) costs more than reading row by row saves; both give the same plan.
FRAMES_FROM = 2 << 20


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # the reader says what is wrong with it


OUTSIDE = "outside --from/--to"  # the reason a row outside the period is skipped


def _skip_outside(spool: RecordSpool, index: int, row: Row) -> None:
    spool.skip(index, row.origin.line, row.key, OUTSIDE)


def _fingerprint(path: Path) -> tuple[str, tuple[int, int] | None]:
    """The file's sha256, and its size and mtime to see that it did not change while read
    (None for a file that cannot be read: its reader says why, as for any input)."""
    import hashlib

    try:
        with os.fdopen(open_nowait(path), "rb") as handle:  # a FIFO is never waited on
            before = os.fstat(handle.fileno())
            if not stat.S_ISREG(before.st_mode):
                return "", None
            sha256 = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "", None
    return sha256, (before.st_size, before.st_mtime_ns)


def _unchanged(path: Path, stamp: tuple[int, int] | None) -> None:
    if stamp is None:
        return
    try:
        now = os.stat(path)
    except OSError:
        now = None
    if now is None or (now.st_size, now.st_mtime_ns) != stamp:
        raise InputError(
            "the file changed while bokfor read it",
            file=str(path),
            hint=_CHANGED_HINT,
        )


_CHANGED_HINT = "let the download or copy finish, then run again: nothing was written or recorded."


@dataclass(frozen=True, slots=True)
class Doubt(Caution):
    """A new row that may have been booked already under another key."""


def refuse_cautions(notices: Iterable[Notice]) -> None:
    """`--strict`: the warnings that may mean wrong books stop the run, all listed (those of
    backwards postings are refused first, by `plausibility.refuse`)."""
    found = [n for n in notices if isinstance(n, Caution)]
    if found:
        raise InputError(
            f"--strict: {len(found)} warning{'s' if len(found) > 1 else ''} that may mean rows "
            "booked twice or lost; nothing was written",
            file=found[0].file,
            hint="each line below says what it saw: book each bank account from one format "
            '(docs/bank.md, "One account, one format"), keep written files until they are '
            "imported; run without --strict if you have checked them.",
            details=[f"  {n}" for n in found],
        )


class _Payouts:
    """per_payout rows of a source whose payout rows add up (`Schema.payout_row`: the Stripe
    balance export). A Stripe automatic payout pays out exactly the net of the balance
    transactions it sweeps, so its rows with it add up to 0 on `Schema.money`. A payout in
    this run whose rows, read in this run or booked before with it (the ledger records each
    row's payout as its movement, "payout:<id>"), do not, misses rows: booked alone, their
    revenue would never be booked (the clearing account left short). When rows wait for a
    payout (this run's, or left by an earlier run and booked since by none: `Ledger.waiting`),
    they may be the missing ones: the run stops and says which (`check`); else it warns.
    Rows earlier runs left waiting and this run did not read are told of in a notice."""

    PREFIX = "payout:"

    def __init__(self) -> None:
        # (source, payout id) -> [money of its rows here, payout row's money, its origin]
        self.sums: dict[tuple[str, str], list[Any]] = {}
        self.waiting: dict[str, dict[str, tuple[str, int]]] = {}  # source -> Ledger.waiting
        # source -> this run's rows without a payout (and booked by no later input): key ->
        # origin
        self.pending: dict[str, dict[str, Origin]] = {}
        self.schemas: dict[str, Schema] = {}
        self.source, self.key_field, self.payout_row = "", "", ("", "")
        self.counted: set[str] = set()  # keys of rows read in this run, exported before

    def start(self, src: Source, rules: SourceRules | None, ledger: Ledger) -> bool:
        """Whether `src`'s rows are checked so (then they are `add`ed as they are booked)."""
        schema = src.schema
        key_field = schema.group_keys.get("per_payout")
        if (
            rules is None
            or rules.grouping != "per_payout"
            or schema.payout_row is None
            or not schema.money
            or not key_field
        ):
            return False
        self.source, self.key_field, self.payout_row = src.name, key_field, schema.payout_row
        self.schemas[src.name] = schema
        if src.name not in self.waiting:
            self.waiting[src.name] = ledger.waiting(src.name)
        return True

    def add(self, row: Row) -> str:
        """A row booked now: counted with its payout; the movement it is recorded with."""
        payout = row.fields.get(self.key_field)
        self.waiting[self.source].pop(row.key, None)
        self.pending.get(self.source, {}).pop(row.key, None)
        if not payout:
            return ""
        field_, value = self.payout_row
        self._count(
            str(payout),
            row.amounts[self.schemas[self.source].money or ""],
            row.fields.get(field_) == value,
            row.origin.file,
            row.origin.line,
        )
        return self.PREFIX + str(payout)

    def exported(self, rows: Row | pl.DataFrame) -> None:
        """Rows of this run exported before (a Row, or a frame of them: classify.Sorter):
        counted with their payout, never as its payout row, and their keys kept so that the
        ledger's record of them is not counted again (`check`). A row an older bokfor booked
        has no payout in the ledger: read again, it still counts."""
        import polars as pl

        from bokfor import frames

        money = self.schemas[self.source].money or ""
        if isinstance(rows, Row):
            payout = rows.fields.get(self.key_field)
            if payout:
                self._count(str(payout), rows.amounts[money], False, "", 0)
                self.counted.add(rows.key)
            return
        paid = rows.filter(pl.col(self.key_field).is_not_null() & (pl.col(self.key_field) != ""))
        if not paid.height:
            return
        for payout, total in (
            paid.group_by(self.key_field, maintain_order=True).agg(pl.col(money).sum()).iter_rows()
        ):
            self._count(str(payout), total, False, "", 0)
        self.counted.update(paid[frames.KEY].to_list())

    def add_frame(self, frame: pl.DataFrame) -> None:
        """`add` for rows booked as columns: key, group (the payout id), money, payout (the
        row is the payout itself), file, line."""
        import polars as pl

        for waiting in (self.waiting[self.source], self.pending.get(self.source, {})):
            if waiting:
                for key in frame.filter(pl.col("key").is_in(list(waiting)))["key"].to_list():
                    waiting.pop(key, None)
        sums = frame.group_by("group", maintain_order=True).agg(pl.col("money").sum())
        for payout, money in sums.iter_rows():
            self._count(payout, money, False, "", 0)
        for payout, money, file, line in (
            frame.filter(pl.col("payout")).select("group", "money", "file", "line").iter_rows()
        ):
            self._count(payout, 0, True, file, line, money)

    def _count(
        self, payout: str, money: int, is_payout: bool, file: str, line: int, own: int = 0
    ) -> None:
        acc = self.sums.setdefault((self.source, payout), [0, None, None])
        acc[0] += money
        if is_payout and acc[2] is None:
            acc[1], acc[2] = own or money, Origin(file, line)

    def read(self, pending: Iterable[Row]) -> None:
        """The input's rows that wait for a payout (`Booking.pending`)."""
        waiting, mine = self.waiting[self.source], self.pending.setdefault(self.source, {})
        for row in pending:
            waiting.pop(row.key, None)
            mine[row.key] = row.origin

    def check(self, ledger: Ledger) -> tuple[list[BokforError], list[Notice]]:
        """The run's payouts whose rows do not add up: an error when rows wait for a payout
        (they may be its), else a caution; and a notice of rows earlier runs left waiting."""
        errors: list[BokforError] = []
        notices: list[Notice] = []
        for (source, payout), (total, own, origin) in self.sums.items():
            if origin is None or not total:
                continue  # the payout is not in this run, or its rows here add up
            schema = self.schemas[source]
            before = 0
            for key, content, _ in ledger.payout_rows(self.PREFIX + payout):
                if key in self.counted:
                    continue  # read in this run, exported before: counted (`exported`)
                value = content_dict(content).get(schema.money or "", "0")
                before += int(value) if value.lstrip("-").isdigit() else 0
            short = total + before  # what the payout took that no row of it put in: < 0
            if not short:
                continue
            found = (
                f"its rows in this run{' and those booked with it before' if before else ''}"
                f" add up to {format_sek(-(own) + short)} kr"
            )
            what = (
                f"payout {payout} ({format_sek(-own)} kr) pays out rows that are not in this"
                f" run: {found}, {format_sek(abs(short))} kr " + ("short" if short < 0 else "over")
            )
            waiting = _where(
                self.pending.get(source, {}).values(), "read in this run, not paid out"
            )
            waiting += _where(
                (Origin(f, n) for f, n in self.waiting.get(source, {}).values()),
                "left waiting for their payout by an earlier run",
            )
            column = schema.payout_column or self.key_field
            if waiting:
                errors.append(
                    InputError(
                        what + "; rows that wait for a payout may be its (below)",
                        file=origin.file,
                        line=origin.line,
                        column=column,
                        hint=f"download the export of the period that holds them again (it "
                        f"then names {payout} in their {column} column) and give it with "
                        "this file in one run; nothing was written.",
                        details=waiting,
                    )
                )
            else:
                notices.append(
                    Caution(
                        what + ", neither read nor booked by bokfor before: booked as it is. "
                        "Give the export that holds them with this file in one run (download "
                        f"it again if its {column} column is empty), unless they were booked "
                        "before bokfor was used",
                        file=origin.file,
                        line=origin.line,
                    )
                )
        if not errors:
            for left in self.waiting.values():
                notices += [
                    Notice(
                        f"{len(lines)} row{'s' if len(lines) > 1 else ''} an earlier run left"
                        f" waiting for their payout {'are' if len(lines) > 1 else 'is'} not"
                        f" booked yet (lines {ranges(lines)}); they are booked with the"
                        " payout that includes them, from an export that names it",
                        file=file,
                    )
                    for file, lines in _by_file(left.values()).items()
                ]
        return errors, notices


def _by_file(places: Iterable[tuple[str, int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for file, line in places:
        out.setdefault(file, []).append(line)
    return out


def _where(origins: Iterable[Origin], why: str) -> list[str]:
    """`  file: N rows <why> (lines 3-4,9)`, a line a file."""
    return [
        f"  {file}: {len(lines)} row{'s' if len(lines) > 1 else ''} {why} (lines {ranges(lines)})"
        for file, lines in _by_file((o.file, o.line) for o in origins).items()
    ]


class _Movements:
    """Bank rows' money movements: "<ledger account>|<date>|<öre>", recorded in the ledger.

    The same transaction read from two formats of one account (a SEB CSV row and its
    camt.053 entry) has no key in common, so nothing else would stop it being booked twice.
    A new row whose movement was exported from another format, or comes from another format
    in this run, is a doubt: two different transactions can share a movement (two 99 kr
    purchases a day), hence a warning and not a refusal, unless --strict. An id-less row whose
    digest and occurrence were exported under another name of its account (`--bank-account`
    one night and not the next) is surely the same row: that stops the run
    (`renamed_error`)."""

    def __init__(self) -> None:
        self.run: dict[str, tuple[str, Origin]] = {}  # movement -> first source, origin
        self.renamed: list[str] = []  # rows exported under another name of their account
        self.new: list[tuple[str, str, Origin]] = []  # this input's booked rows: movement, key
        self.framed: list[pl.DataFrame] = []  # those booked as columns: movement, key, file, line
        self.source = ""
        self.accounts: BankAccounts | None = None

    def start(self, source: str, rules: SourceRules) -> None:
        self.source, self.accounts, self.new, self.framed = source, rules.bank_accounts, [], []

    def add(self, row: Row) -> str:
        assert self.accounts is not None, "start() with the bank section's rules first"
        try:
            account = self.accounts.ledger_account(row, "")
        except MappingError:
            return ""  # booked without the bank account: no movement of it
        movement = f"{account}|{row.date.isoformat()}|{row.amounts['amount']}"
        self.new.append((movement, row.key, row.origin))
        return movement

    @staticmethod
    def movement(account: pl.Expr, date: pl.Expr, amount: pl.Expr) -> pl.Expr:
        """`add`'s movement as a column, for rows booked as columns (null without an
        account)."""
        import polars as pl

        return pl.concat_str(
            account, pl.lit("|"), date.cast(pl.String), pl.lit("|"), amount.cast(pl.String)
        ).alias("movement")

    def add_many(self, booked: pl.DataFrame) -> None:
        """`add` for rows booked as columns: movement, key, file, line, in file order."""
        self.framed.append(booked)

    def doubts(self, ledger: Ledger, *, last: bool) -> list[Notice]:
        """A Doubt for each of this input's booked rows that may be booked already. `last`:
        no input follows, so a movement no doubt concerns need not be remembered for the
        run; of rows booked as columns only those a doubt may concern become objects."""
        found: list[Notice] = []
        new = self.new
        if self.framed:
            import polars as pl

            framed = pl.concat(self.framed)
            movements = framed["movement"].unique().to_list()
            exported = ledger.movements(movements)
            if last:
                run, source = self.run, self.source
                concern = [
                    m for m in movements if m in exported or run.get(m, (source,))[0] != source
                ]
                framed = framed.filter(pl.col("movement").is_in(concern))
            new = [(m, key, Origin(file, line)) for m, key, file, line in framed.iter_rows()]
        else:
            exported = ledger.movements(list({m for m, _, _ in new}))
        for movement, row_key, origin in new:
            first = self.run.setdefault(movement, (self.source, origin))
            if first[0] != self.source:
                found.append(
                    Doubt(
                        f"{_doubtful(movement)}: it is also at {first[1]}, read as {first[0]} "
                        "(another format of the same bank account)",
                        file=origin.file,
                        line=origin.line,
                    )
                )
                continue
            for key, source, legacy in exported.get(movement, ()):
                if source != self.source:
                    found.append(
                        Doubt(
                            f"{_doubtful(movement)}: {key} was exported from {source} (another "
                            "format of the same bank account)",
                            file=origin.file,
                            line=origin.line,
                        )
                    )
                elif key == row_key or not _idless_tail(row_key):
                    continue
                elif legacy:  # keyed by the scheme before, as the file was read then
                    found.append(
                        Doubt(
                            f"{_doubtful(movement)}: an earlier bokfor exported {key}, of the same "
                            "account, day and amount, from a file it read otherwise",
                            file=origin.file,
                            line=origin.line,
                        )
                    )
                    break  # one doubt a row is enough
                elif _idless_tail(key) == _idless_tail(row_key):
                    self.renamed.append(f"  {origin}: {row_key} was exported as {key}")
        self.new, self.framed = [], []
        return found

    def renamed_error(self) -> InputError | None:
        """Rows whose digest and occurrence were exported from the same format under another
        name of their bank account: the same rows, read with `--bank-account` one night and
        without it the next (or by a profile of another bank name). Booked, they would be
        booked twice, so the run stops unless the user says they are another account's."""
        if not self.renamed:
            return None
        n = len(self.renamed)
        return InputError(
            f"{n} row{'s' if n > 1 else ''} were exported before under another name of "
            "their bank account; nothing was written",
            hint="run as that export was run (the same --bank-account, or none; a profile of "
            "your own for a bank bokfor knows names it with `bank:`). If these are another "
            "bank account's rows that happen to be the same, add --other-account.",
            details=self.renamed,
        )


def _doubtful(movement: str) -> str:
    return f"{_shown(movement)} may be booked already"


def _shown(movement: str) -> str:
    account, day, ore = movement.split("|")
    return f"{day}, {format_sek(int(ore))} on {account}"


def _idless_tail(key: str) -> str:
    """`<digest>#<n>` of an id-less bank key (`bank:<account>:<digest>#<n>`), else ''."""
    tail = key.rpartition(":")[2]
    return (
        tail
        if key.startswith("bank:") and "#" in tail and len(tail.partition("#")[0]) == 24
        else ""
    )


def check_books(plan: Plan, books: SieDocument) -> None:
    """Against a SIE 4E export of the books: flag new vouchers that look booked already
    (same date, same net amount per account) and accounts the books' chart lacks."""
    index: dict[tuple, str] = {}
    for v in books.vouchers:
        number = "" if v.number is None else f" {v.number}"
        index.setdefault((v.date, _shape(v.lines)), f"{v.series}{number}")
    used: set[str] = set()
    for i, v in enumerate(plan.to_write):  # one pass: vouchers held as columns are made here
        used.update(line.account for line in v.lines)
        like = index.get((v.date, _shape(v.lines))) if i >= plan.corrections else None
        if like is not None:
            plan.possibly_booked[i] = like
    plan.missing_accounts = sorted(used - set(books.accounts))


def _shape(lines: Iterable[Line]) -> tuple[tuple[str, int], ...]:
    per_account: Counter[str] = Counter()
    for line in lines:
        per_account[line.account] += line.amount
    return tuple(sorted((a, amount) for a, amount in per_account.items() if amount))


# A run holds what it books until the export; the rows' ledger records wait on disk
# (bokfor.spool), and so do grouped rows' keys and origins (postings._Spill). Measured
# (bench/README.md, issue 22): a file booked one voucher a row holds ~2 KiB a row, so such a
# file is refused past MAX_INPUT_BYTES, up front and with a way out, rather than exhausting
# the machine half-way. Rows booked a voucher a day or a payout by columns hold ~40 B a row
# while read and ~60 B at the run's peak, over a ~250 MiB start: the bench's 2,213 MiB Stripe
# export of 10.5M rows peaked at 867 MiB. Such a file, the run's only input, may be up to
# MAX_GROUPED_INPUT_BYTES, a little past that measured one. A year of a busy shop's Stripe
# balance export is tens of MB.
MAX_INPUT_BYTES = 512 * 1024 * 1024
MAX_GROUPED_INPUT_BYTES = 2560 * 1024 * 1024


def _check_inputs(inputs: list[Path]) -> None:
    given: dict[Path, Path] = {}
    for path in inputs:
        if given.setdefault(path.resolve(), path) is not path:
            raise UsageError(f"{path} is given twice", hint="name each input file once.")


def _check_sizes(
    inputs: list[Path], sources: list[Source], mapping: Mapping, *, grouped_ok: bool
) -> None:
    """Refuse an input larger than a run can hold (see MAX_INPUT_BYTES). `grouped_ok`: the
    run may book its file by columns (one input, Polars runs, neither --correct nor
    --bank-account, which read by rows)."""
    for path, src in zip(inputs, sources, strict=True):
        size = _size(path)
        limit = MAX_INPUT_BYTES
        if size > limit and grouped_ok and _grouped_by_columns(src, mapping):
            limit = MAX_GROUPED_INPUT_BYTES
        if size > limit:
            raise InputError(
                f"the file is {size // 2**20} MiB, more than the {limit // 2**20} MiB "
                "one run reads",
                file=str(path),
                hint="export a shorter period (a month or a quarter) and convert each file; "
                "the ledger keeps the runs from booking anything twice.",
            )


def _grouped_by_columns(src: Source, mapping: Mapping) -> bool:
    """Whether the plan books `src`'s rows by columns into a voucher a day or a payout (as
    `_plan_inputs` decides, for a file large enough to be read into frames)."""
    if src.section == POS or src.section not in mapping.sources:
        return False
    from bokfor import postings

    rules = mapping.for_source(src.section)
    return (
        rules.grouping != "per_row"
        and postings.columnar(rules, src.schema)
        and (hasattr(src, "read_frames") or src.section == BANK)
    )


def _read(
    src: Source, path: Path, mapping: Mapping, bank_account: str | None
) -> Iterable[Row | Notice]:
    items = src.read(path, mapping.timezone)
    if bank_account and src.section == BANK:
        items = _with_account(items, bank_account)
    return items


def _with_account(items: Iterable[Row | Notice], account: str) -> Iterator[Row | Notice]:
    """Bank rows whose file names no account, as rows of `account`; its key is made part
    of theirs, so identical rows of two such accounts stay two rows."""
    from bokfor.sources.bank import account_id, with_account

    tag = account_id(account)
    for item in items:
        if isinstance(item, Row) and not item.fields.get("account"):
            # Schema 3 ledgers: `<key>@<account>`, or the plain key of a run without it.
            former = tuple(f"{f}@{tag}" for f in item.former) + item.former
            item = dataclasses.replace(
                item,
                key=with_account(item.key, account),
                former=former,
                fields={**item.fields, "account": account},
            )
        yield item


def _count(
    items: Iterable[Row | Notice],
    summary: InputSummary,
    notices: list[Notice],
    progress: Progress | None = None,
) -> Iterator[Row]:
    """The rows, counted; a source's warnings (pending rows left out, balances that do not
    add up) go to the plan's notices."""
    for item in items:
        if isinstance(item, Notice):
            notices.append(item)
            continue
        summary.rows += 1
        if progress is not None and not summary.rows & _EVERY:
            progress(summary.path, summary.rows)
        yield item


_EVERY = 2**14 - 1  # progress is told every 16,384 rows


def _frame_stages(
    batches: Iterable[pl.DataFrame | Notice],
    summary: InputSummary,
    seen: _Seen,
    period: tuple[dt.date | None, dt.date | None],
    skip: Callable[[int, str, str], None],
    progress: Progress | None,
    notices: list[Notice],
) -> Iterator[pl.DataFrame]:
    """`_count`, `_Seen.added` and `_in_range` for a row frame's batches: the rows counted
    (progress told each 16,384), their names noted, those outside --from/--to told to `skip`
    (line, key, reason) and left out; a source's warnings among them go to `notices`."""
    import polars as pl

    from bokfor import frames

    first, last = period
    for batch in batches:
        if isinstance(batch, Notice):
            notices.append(batch)
            continue
        before, summary.rows = summary.rows, summary.rows + batch.height
        if progress is not None and before >> 14 != summary.rows >> 14:
            progress(summary.path, summary.rows)
        seen.frame(batch)
        if first is None and last is None:
            yield batch
            continue
        date = pl.col(frames.DATE_COL)
        inside = batch.select(
            pl.all_horizontal(
                pl.lit(True),
                *([date >= first] if first else []),
                *([date <= last] if last else []),
            )
        ).to_series()
        away = batch.filter(~inside)
        summary.outside += away.height
        for line, key in zip(away[frames.LINE].to_list(), away[frames.KEY].to_list(), strict=True):
            skip(line, key, OUTSIDE)
        yield batch.filter(inside)


class _Seen:
    """Every key and alias of the run as a 64-bit hash: 8 bytes a name, where a dict of
    names and origins held ~250 (a third of a 1M-row run's memory). A name seen twice is
    looked for when the run's rows are read (`check`); the inputs are then read again to
    name both rows, or to find the two names differ (a collision: about 1 in 10^7 for a
    million names) and let the run go on."""

    def __init__(self, overlap: _Overlap | None = None) -> None:
        self.hashes = array("q")
        self.inputs: list[tuple[Path, Source]] = []  # in the order they were read
        self.starts: list[int] = []  # where each input's names start in `hashes`
        # Of a run of several inputs: which input's copy of each key is booked (_Overlap).
        self.overlap = overlap

    def read(
        self, path: Path, src: Source
    ) -> Callable[[Iterable[Row], InputSummary, Skip], Iterable[Row]]:
        """Note an input about to be read; returns the filter its rows go through first
        (rows another input of the run holds too are dropped, and told to `Skip`)."""
        self.inputs.append((path, src))
        self.starts.append(len(self.hashes))
        if self.overlap is None:
            return lambda rows, summary, skip: rows
        return functools.partial(self.overlap.rows, index=len(self.inputs) - 1, src=src)

    def added(self, rows: Iterable[Row]) -> Iterator[Row]:
        append, extend = self.hashes.append, self.hashes.extend
        for row in rows:
            key, aliases = row.key, row.aliases
            append(hash(key))
            if aliases:
                # One name twice in a row is no repeat.
                extend(hash(a) for a in set(aliases) if a != key)
            yield row

    def frame(self, batch: pl.DataFrame) -> None:
        """`added` for a row frame's batch: the same names (their order is another)."""
        import polars as pl

        from bokfor.frames import ALIASES, KEY

        self.hashes.extend(map(hash, batch[KEY].to_list()))
        aliases = (
            batch.select(KEY, ALIASES)
            .with_row_index()
            .explode(ALIASES)
            .filter(pl.col(ALIASES).is_not_null() & (pl.col(ALIASES) != pl.col(KEY)))
            .unique(["index", ALIASES])
        )
        self.hashes.extend(map(hash, aliases[ALIASES].to_list()))

    def check(self, mapping: Mapping, bank_account: str | None, *, complete: bool = True) -> None:
        """Raise the error `_unique` gives for a name seen twice, if one was. `complete`:
        every input was read whole; then a second reading must give the same names of each
        input (in any order: a frame notes them in another), since the plan was made from
        the first (a file still being written is refused)."""
        if not self.repeated():
            return
        exact: dict[str, tuple[Origin, str]] = {}
        again = _Seen(self.overlap)
        for path, src in self.inputs:
            summary = InputSummary("", "")
            rows = again.read(path, src)(
                _count(_read(src, path, mapping, bank_account), summary, []),
                summary,
                lambda *skipped: None,
            )
            for _ in _unique(again.added(rows), exact):
                pass
        if not complete:
            return
        for (path, _), now, then in zip(self.inputs, again.names(), self.names(), strict=True):
            if sorted(now) != sorted(then):
                raise InputError(
                    "the file changed while bokfor read it",
                    file=str(path),
                    hint="run again once it is complete (is a download or a sync still "
                    "writing it?).",
                )

    def names(self) -> list[array[int]]:
        """The hashes of each input's names, in the order the inputs were read."""
        ends = [*self.starts[1:], len(self.hashes)]
        return [self.hashes[a:b] for a, b in zip(self.starts, ends, strict=True)]

    def repeated(self) -> bool:
        hashes = self.hashes
        if len(hashes) < 2**16:
            return len(set(hashes)) != len(hashes)
        import numpy  # sorts 8-byte integers in C; not imported by small runs

        # Each input's names are sorted where they are (`names` compares them sorted): a run
        # of one input, the large case, needs no copy of them (10.5M Stripe rows: 160 MB).
        held = numpy.frombuffer(hashes, dtype=numpy.int64)
        starts = self.starts or [0]
        for start, end in zip(starts, [*starts[1:], len(hashes)], strict=True):
            held[start:end].sort()
        if len(starts) > 1:
            held = numpy.sort(held)  # names that are in several inputs
        found = bool((held[1:] == held[:-1]).any())
        del held  # `hashes` grows again only once no view of it is left
        return found


class _Overlap:
    """Rows that several inputs of one run hold: overlapping downloads ("the last 30 days",
    fetched twice) are the normal case. Every input is read once first (`scan`), and each key
    is then booked from one copy: the one with the most fields filled in (an older download's
    charge does not name the payout a newer one names), the later input on a tie; the other
    copies count as "also in" that input. From another kind of export (a balance transaction
    also in a Report) the key decides, as against the ledger. Copies with other content (one
    file older or edited) are a conflict: the run stops naming them, unless --correct, with
    which the copy of the input given last counts (against the ledger it is then a changed
    row, as any). Within one input a key seen twice is a broken file (`_unique` names it).
    Held only for runs of several inputs: a key, its chosen input, content and origin a row."""

    def __init__(self) -> None:
        # key -> (input, content, origin, source, fields filled)
        self.best: dict[str, tuple[int, str, Origin, str, int]] = {}
        self.conflicts: dict[str, list[tuple[Origin, str, Schema]]] = {}  # every copy
        self.contents: dict[str, Callable[[Row], str]] = {}

    def content(self, src: Source) -> Callable[[Row], str]:
        found = self.contents.get(src.name)
        if found is None:
            found = self.contents[src.name] = content_of(src.schema, src.schema.amounts)
        return found

    def scan(self, index: int, src: Source, rows: Iterable[Row]) -> None:
        content, best = self.content(src), self.best
        for row in rows:
            text = content(row)
            filled = sum(1 for v in row.fields.values() if v is not None and v != "")
            held = best.get(row.key)
            if held is None:
                best[row.key] = (index, text, row.origin, src.name, filled)
                continue
            if held[0] == index:
                continue  # a key twice in one file: _unique refuses it
            differs = held[3] == src.name and held[1] != text and not same_content(held[1], text)
            if differs:
                copies = self.conflicts.setdefault(row.key, [(held[2], held[1], src.schema)])
                copies.append((row.origin, text, src.schema))
            if differs or filled >= held[4]:
                best[row.key] = (index, text, row.origin, src.name, filled)

    def error(self) -> InputError | None:
        """The copies with other content, as one error (the run stops unless --correct)."""
        if not self.conflicts:
            return None
        details = []
        for key, copies in self.conflicts.items():
            chosen = self.best[key]
            for origin, text, schema in copies:
                if origin == chosen[2]:
                    continue
                old, new = (content_dict(t, schema.amounts) for t in (text, chosen[1]))
                diffs = ", ".join(
                    f"{name} {old.get(name)} -> {value}"
                    for name, value in new.items()
                    if old.get(name) != value
                )
                details.append(f"  {key}: {origin} -> {chosen[2]}: {diffs}")
        n = len(self.conflicts)
        return InputError(
            f"{n} row{'s' if n > 1 else ''} of this run {'are' if n > 1 else 'is'} in two "
            "files with other content: one of them is older or was edited; nothing was written",
            hint="give only the newer download, or run with --correct: the copy in the input "
            "given last counts (and a row exported before with other content is corrected).",
            details=details,
        )

    def rows(
        self, rows: Iterable[Row], summary: InputSummary, skip: Skip, *, index: int, src: Source
    ) -> Iterator[Row]:
        best = self.best
        for row in rows:
            chosen = best.get(row.key)
            if chosen is not None and chosen[0] != index:
                origin = chosen[2].file
                summary.also[origin] = summary.also.get(origin, 0) + 1
                skip(
                    index,
                    row.origin.line,
                    row.key,
                    f"also in {Path(origin).resolve()}: booked from there",
                )
                continue
            yield row


def _unique(rows: Iterable[Row], seen: dict[str, tuple[Origin, str]]) -> Iterator[Row]:
    """The same row twice in one run (overlapping exports, or one charge in two kinds of
    export) would be booked twice."""
    for row in rows:
        for name in (row.key, *row.aliases):
            first, owner = seen.setdefault(name, (row.origin, row.key))
            if first is not row.origin:
                if owner == row.key:
                    what = f"duplicate row {row.key}"
                    hint = (
                        "a file holds each transaction once: download the export again "
                        "(this one was edited or is damaged)."
                    )
                else:
                    what = f"{name.split(':', 1)[1]} is also in another export"
                    hint = (
                        "book each Stripe charge and payout from one kind of export only "
                        "(see docs/stripe.md)."
                    )
                raise InputError(
                    f"{what} (also at {first}): it would be booked twice",
                    file=row.origin.file,
                    line=row.origin.line,
                    hint=hint,
                )
        yield row


def _in_range(
    rows: Iterable[Row],
    first: dt.date | None,
    last: dt.date | None,
    summary: InputSummary,
    outside: Callable[[Row], None],
) -> Iterator[Row]:
    for row in rows:
        if (first and row.date < first) or (last and row.date > last):
            summary.outside += 1
            outside(row)
            continue
        yield row


def totals(vouchers: Iterable[Voucher]) -> dict[str, tuple[int, int]]:
    """account -> (debit, credit) in öre."""
    if isinstance(vouchers, VoucherColumns):
        return vouchers.totals()
    debit: dict[str, int] = defaultdict(int)
    credit: dict[str, int] = defaultdict(int)
    for v in vouchers:
        for line in v.lines:
            if line.amount > 0:
                debit[line.account] += line.amount
            else:
                credit[line.account] -= line.amount
    return {a: (debit[a], credit[a]) for a in sorted(set(debit) | set(credit))}
