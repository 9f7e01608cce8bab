"""Which of an input's rows are new, exported before, or changed: the plan's question to the
export ledger, asked by each row's stable key.

A row the ledger does not know is new (booked now). A row it knows with the same content
(`content_of`) was exported before: counted, its voucher shown as `=`. A row it knows with
other content has changed: never booked again silently (`plan` shows it, `--correct` reverses
and re-books it). A row an older bokfor exported under a former key, or under a key learned
as its other name, takes that key; a new row whose money movement was exported under another
key (a charge from another kind of Stripe export) is refused.

`Sorter` answers it for rows (`rows`, the sources that read row by row) and for row frames
(`frames`): a frame's batch is one sorted ledger lookup and a few column operations, and only
the rows to book become `Row` objects. Both give the same answer for the same rows:
tests/test_classify.py checks it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bokfor.domain import Line, Row
from bokfor.errors import InputError
from bokfor.ledger import Ledger
from bokfor.sources import TEXT, Schema

if TYPE_CHECKING:  # a run of row-reading sources never imports Polars
    import polars as pl

_BATCH = 2000  # rows classified per ledger lookup (row by row)
NEW, EXPORTED, CHANGED, OTHER = "new", "exported", "changed", "other"  # a row frame's rows
CONTENT = "_content"  # a new row's content in the frames `new_frames` gives


def content_of(schema: Schema, amount_names: Iterable[str]) -> Callable[[Row], str]:
    """A function giving what decides a row's booking, as text:
    `date=2026-01-05␟fee=554␟gross=24900␟net=24346␟type=charge␟currency=sek` (␟ = U+001F,
    amounts in öre). The ledger stores it per row; a row whose text differs has changed.
    Comparing the text itself is exact and cheaper than hashing it."""
    amounts = tuple(sorted(amount_names))
    fields = schema.content_fields
    # One format string for the row shape: `date={}␟fee={}␟…`, filled in one call.
    shape = "\x1f".join(
        f"{n.replace('{', '{{').replace('}', '}}')}={{}}" for n in ("date", *amounts, *fields)
    ).format

    def content(row: Row) -> str:
        values, extra = row.amounts, row.fields
        return shape(
            row.date,
            *[values[n] for n in amounts],
            *["" if (v := extra.get(n)) is None else v for n in fields],
        )

    return content


def frame_contents(frame: pl.DataFrame, schema: Schema) -> pl.Series | None:
    """`content_of` of every row of a row frame as one column, or None when a row's text
    would not come out the same (an amount missing, a content field that is not text, a
    date outside years 1000-9999): the caller then takes it row by row."""
    import polars as pl

    from bokfor import frames

    amounts = sorted(schema.amounts)
    fields = schema.content_fields
    if any(schema.fields.get(n, TEXT) != TEXT for n in fields):
        return None
    if any(n not in frame.columns for n in amounts):
        return None
    year = pl.col(frames.DATE_COL).dt.year()
    odd = frame.select(
        pl.any_horizontal(
            *(pl.col(n).is_null().any() for n in amounts),
            pl.col(frames.DATE_COL).is_null().any(),
            ((year < 1000) | (year > 9999)).any(),
        )
    ).item()
    if odd:
        return None
    parts: list[pl.Expr] = [
        pl.lit("date="),
        pl.col(frames.DATE_COL).dt.strftime("%Y-%m-%d"),
    ]
    for name in amounts:
        parts += [pl.lit(f"\x1f{name}="), pl.col(name).cast(pl.String)]
    for name in fields:
        value = pl.col(name) if name in frame.columns else pl.lit(None, pl.String)
        parts += [pl.lit(f"\x1f{name}="), value.cast(pl.String).fill_null("")]
    return frame.select(pl.concat_str(parts).alias("content")).to_series()


def same_content(before: str, now: str) -> bool:
    """Whether a row's content recorded in the ledger says what `now` says, on the names
    `now` has. A content that once named more fields (an older bokfor kept a bank row's
    reference and counterparty) is compared on those it still names, so dropping a field
    from a source's content never makes its exported rows look changed."""
    old = dict(part.partition("=")[::2] for part in before.split("\x1f"))
    for part in now.split("\x1f"):
        name, _, value = part.partition("=")
        if old.get(name) != value:
            return False
    return True


@dataclass
class Sorter:
    """One input's rows sorted against the ledger. The rows to book come out of `rows` or
    `frames` as they are read: the new ones, then (`changed_rows`, with --correct) the
    changed ones. It keeps what the plan needs of the others: how many were exported, the
    vouchers they are in (`exported_ids`, shared by the run's inputs), the changed rows with
    their content now, the content of each row to book (booking's record takes it out), and
    the former keys it learned (shared by the run)."""

    ledger: Ledger
    source: str
    schema: Schema
    exported_ids: set[int]
    learned: list[tuple[str, str]]
    exported: int = 0
    contents: dict[str, str] = field(default_factory=dict)
    changed: list[tuple[Row, str]] = field(default_factory=list)
    # Hears the rows exported before, a Row at a time or a batch's frame of them
    # (plan._Payouts counts them with their payout).
    on_exported: Callable[[Any], None] | None = None

    def __post_init__(self) -> None:
        self.content = content_of(self.schema, self.schema.amounts)

    def rows(self, rows: Iterable[Row]) -> Iterator[Row]:
        """The new rows of `rows`, asking the ledger a batch of keys at a time."""
        batch: list[Row] = []
        for row in rows:
            batch.append(row)
            if len(batch) == _BATCH:
                yield from self._batch(batch)
                batch = []
        if batch:
            yield from self._batch(batch)

    def frames(self, batches: Iterable[pl.DataFrame]) -> Iterator[Row]:
        """The new rows of row frames (bokfor.frames) as `Row` objects, for booking row by
        row: what `new_frames` gives, their contents kept in `contents`."""
        from bokfor import frames

        for part in self._sorted(batches):
            if isinstance(part, list):
                yield from part
                continue
            self.contents.update(
                zip(part[frames.KEY].to_list(), part[CONTENT].to_list(), strict=True)
            )
            yield from frames.to_rows(part.drop(CONTENT), self.source, self.schema)

    def new_frames(self, batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame]:
        """The new rows of row frames, a frame a batch with each row's content (CONTENT)
        beside, for booking by columns (bokfor.postings)."""
        import polars as pl

        from bokfor import frames

        for part in self._sorted(batches):
            if isinstance(part, list):
                if part:
                    # A key twice in the batch has one content: the run refuses it
                    # (plan._Seen), and booking records the row with none (as `_recorder`).
                    contents = [self.contents.pop(row.key, None) for row in part]
                    yield frames.from_rows(part, self.schema).with_columns(
                        pl.Series(CONTENT, contents, dtype=pl.String)
                    )
                continue
            yield part

    def _sorted(self, batches: Iterable[pl.DataFrame]) -> Iterator[pl.DataFrame | list[Row]]:
        """Each batch's new rows: a frame with their contents (CONTENT) when its keys were
        looked up in one sorted pass and joined to what the ledger holds, the exported rows
        found by comparing columns; `Row`s when it went row by row (`_batch`: it needs former
        keys, or its content is not a column)."""
        import polars as pl

        from bokfor import frames

        source, schema, ledger = self.source, self.schema, self.ledger
        for batch in batches:
            if not batch.height:
                continue
            texts = frame_contents(batch, schema)
            known = None if texts is None else ledger.known_frame(batch[frames.KEY].sort())
            if texts is None or known is None or self._formerly(batch, known):
                yield list(self._batch(list(frames.to_rows(batch, source, schema))))
                continue
            status = (
                batch.select(pl.col(frames.KEY), texts.alias("now"))
                .join(known, left_on=frames.KEY, right_on="key", how="left", maintain_order="left")
                .with_columns(
                    pl.when(pl.col("content").is_null())
                    .then(pl.lit(NEW))
                    .when((pl.col("content") == pl.col("now")) | (pl.col("source") != source))
                    .then(pl.lit(EXPORTED))
                    .otherwise(pl.lit(OTHER))
                    .alias("status")
                )
            )
            other = status.with_row_index().filter(pl.col("status") == OTHER)
            changed: list[int] = []
            if other.height:  # other text: changed, unless it says the same (same_content)
                for i, before, now in other.select("index", "content", "now").iter_rows():
                    if not same_content(before, now):
                        changed.append(i)
                status = status.with_columns(
                    pl.when(pl.col("status") != OTHER)
                    .then(pl.col("status"))
                    .when(pl.int_range(pl.len()).is_in(changed))
                    .then(pl.lit(CHANGED))
                    .otherwise(pl.lit(EXPORTED))
                    .alias("status")
                )
            exported = status.filter(pl.col("status") == EXPORTED)
            self.exported += exported.height
            if self.on_exported is not None and exported.height:
                self.on_exported(batch.filter(status["status"] == EXPORTED))
            self.exported_ids.update(exported["voucher_id"].unique().to_list())
            if changed:
                rows = frames.to_rows(batch[changed], source, schema)
                nows = status["now"].gather(changed).to_list()
                self.changed += list(zip(rows, nows, strict=True))
            is_new = status["status"] == NEW
            if is_new.any():
                new = batch.filter(is_new).with_columns(status.filter(is_new)["now"].alias(CONTENT))
                refused = self._check_aliases(new)
                if refused is not None:
                    # By rows a row is refused when booking comes to it: the rows before it
                    # are booked first (one may stop the run before it).
                    at, error = refused
                    if at:
                        yield new.head(at)
                    raise error
                yield new

    def _formerly(self, batch: pl.DataFrame, known: pl.DataFrame) -> bool:
        """Whether a row of `batch` the ledger does not know (`known`) may be known by a
        former key or by a key learned as its other name: `_known_formerly` looks it up."""
        import polars as pl

        from bokfor import frames

        if known.height == batch.height:
            return False
        unknown = batch.filter(~pl.col(frames.KEY).is_in(known["key"].implode()))
        formers = unknown[frames.FORMER].explode().drop_nulls()
        if len(formers) and self.ledger.known_frame(formers.sort()).height:
            return True  # a row exported under its former key (by a bokfor before issue 18)
        return self.ledger.has_renamed and bool(
            self.ledger.renamed(unknown[frames.KEY].sort().to_list())
        )

    def _check_aliases(self, new: pl.DataFrame) -> tuple[int, InputError] | None:
        """The first new row whose alias is another row's exported key (`check_aliases`):
        its index and the error refusing it."""
        from bokfor import frames

        aliases = new[frames.ALIASES].explode().drop_nulls()
        owners = self.ledger.owners(aliases.unique().sort().to_list()) if len(aliases) else {}
        if owners:
            for at, row in enumerate(frames.to_rows(new.drop(CONTENT), self.source, self.schema)):
                try:
                    check_aliases(row, owners, self.ledger)
                except InputError as exc:
                    return at, exc
        return None

    def _batch(self, batch: list[Row]) -> Iterator[Row]:
        ledger, source, content = self.ledger, self.source, self.content
        known = ledger.known([row.key for row in batch])
        if len(known) < len(batch) and (
            ledger.has_renamed or any(row.former and row.key not in known for row in batch)
        ):
            _known_formerly(batch, known, ledger, self.learned)
        owners = ledger.owners(
            [a for row in batch if row.aliases and row.key not in known for a in row.aliases]
        )
        for row in batch:
            text = content(row)
            before = known.get(row.key)
            if before is None:
                check_aliases(row, owners, ledger)
                self.contents[row.key] = text
                yield row
            elif before[0] == text or before[2] != source or same_content(before[0], text):
                # Exported before. From another kind of export (a transaction of the balance
                # export now in a Report) the contents are not comparable: the key decides.
                self.exported += 1
                self.exported_ids.add(before[1])
                if self.on_exported is not None:
                    self.on_exported(row)
            else:
                self.changed.append((row, text))

    def changed_rows(self, now_lines: dict[str, tuple[Line, ...]]) -> Iterator[Row]:
        """The changed rows, to be booked again (--correct): their keys go in `now_lines`
        for the lines they get."""
        for row, text in self.changed:
            self.contents[row.key] = text
            now_lines[row.key] = ()
            yield row


def _known_formerly(
    batch: list[Row],
    known: dict[str, tuple[str, int, str]],
    ledger: Ledger,
    learned: list[tuple[str, str]],
) -> None:
    """Rows a ledger of an older bokfor knows by a former key (`Row.former`), or by a key
    learned as theirs (`Ledger.renamed`), take that key: the ledger's name for them stays the
    one they were exported under, so a correction or a re-run finds them, and they are never
    booked as new. A key found through `Row.former` is learned (`learned`), so that the row is
    found after the file is read otherwise too (a profile edited later)."""
    missing = [row.key for row in batch if row.key not in known]
    renamed = ledger.renamed(missing)
    formers = {f for row in batch if row.key not in known for f in row.former}
    found = ledger.known(list(formers | set(renamed.values())))
    if not found:
        return
    for i, row in enumerate(batch):
        if row.key in known:
            continue
        former = renamed.get(row.key)
        if former not in found:
            former = next((f for f in row.former if f in found), None)
            if former is not None:
                learned.append((row.key, former))
        if former is not None:
            batch[i] = dataclasses.replace(row, key=former, former=())
            known[former] = found[former]


def check_aliases(row: Row, owners: dict[str, str], ledger: Ledger) -> None:
    """A new row whose money movement was exported under another key, from another kind of
    export (a charge from the balance export, now in the Payments export), is refused."""
    for alias in row.aliases:
        owner = owners.get(alias)
        if owner is not None and owner != row.key:
            export = ledger.export_of_row(owner)
            where = f" (export {export.id}, {export.target})" if export else ""
            raise InputError(
                f"{alias.split(':', 1)[1]} was already exported as {owner}{where}: it would be "
                "booked twice",
                file=row.origin.file,
                line=row.origin.line,
                hint="book each Stripe charge and payout from one kind of export only (see "
                "docs/stripe.md).",
            )
