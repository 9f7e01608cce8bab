"""The SIE writer's vouchers rendered from columns (issue 22): the #VER/#TRANS text of a
voucher frame and a line frame (`bokfor.frames.VoucherFrames`) built by Polars string
expressions, a chunk of whole vouchers at a time, to the bytes and notices of the per-row
path in `bokfor.sie.writer`.

The header, chart and every message come from that module's `_Writer` (one place for each):
what the columns cannot write as the per-row path would (a fault to report, an amount too
large to sum as Int64) is found before the first byte and handed to the per-row path.
"""

from __future__ import annotations

import binascii
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

import polars as pl

from bokfor.domain import Notice
from bokfor.errors import SieError
from bokfor.frames import VOUCHER, VoucherFrames
from bokfor.money import format_sie_expr
from bokfor.sie import cp437
from bokfor.sie.ksumma import BLOCK_CLOSE, BLOCK_OPEN, Record
from bokfor.sie.ksumma import checksum as ksumma
from bokfor.sie.model import SieDocument
from bokfor.sie.writer import (
    _EMPTY,
    _date,
    _encode,
    _format,
    _format_field,
    _render_rows_to,
    _transliterate,
    _Where,
    _Writer,
)


class _Unusual(Exception):
    """The columns hold something the per-row path handles (a fault to report, an amount
    too large to sum safely as Int64): the document is written by that path instead."""


_CHUNK_LINES = 1 << 14  # voucher lines rendered at a time (whole vouchers)
_PIECE = 1 << 12  # and written at a time: the text held as Python objects is a piece's
_LARGEST = 10**15  # öre a line (10 000 billion kronor): sums in Int128 cannot wrap


def render_frames_to(
    doc: SieDocument,
    frames: VoucherFrames,
    out: BinaryIO,
    *,
    checksum: bool = False,
    text_limit: int | None = 50,
) -> list[Notice]:
    """`render_to` with the vouchers given as frames (`doc.vouchers` is not read): the
    #VER/#TRANS text is built by string expressions, a chunk of vouchers at a time, to the
    same bytes and notices as the per-row path.

    Everything is checked before the first byte. Faults are found on the columns; one
    found, the per-row path writes the document from `frames.described` and reports the
    first fault exactly as it always has (one place for every message)."""
    writer = _Writer(text_limit, records=[] if checksum else None)
    try:
        parts = _Columns(writer, doc, frames)
    except _Unusual:
        return _render_rows_to(
            dataclasses.replace(doc, vouchers=list(frames.described)),
            out,
            checksum=checksum,
            text_limit=text_limit,
        )
    head, *top = parts.top
    write = out.write
    write(_encode(head + "\r\n" + ("#KSUMMA\r\n" if checksum else "")))
    write(_encode("\r\n".join(top) + "\r\n"))
    # The records after #FLAGGA are what #KSUMMA covers: the preamble's, then the vouchers'.
    crc = ksumma(writer.records[1:], cp437.ENCODING) if writer.records is not None else None
    for text, contents in parts.chunks(checksum):
        write(_encode(text))
        if crc is not None:
            crc = binascii.crc32(_encode(contents), crc)
    if crc is not None:
        write(_encode(_format(Record("#KSUMMA", (str(crc),))) + "\r\n"))
    return writer.notices


_CODE = "_text"  # a text's row in `_Columns._texts`
_ASCII_TEXT = r"^[ -~]*$"  # printable ASCII: what `_transliterate` returns unchanged unless
#                            it has a run of spaces or spaces at an end


class _Columns:
    """The vouchers of `frames`, checked, with the preamble (`top`) made by `writer` and the
    notices of their texts given, ready to be written by `chunks`. Raises `_Unusual` for
    what the per-row path must handle."""

    def __init__(self, writer: _Writer, doc: SieDocument, frames: VoucherFrames) -> None:
        self.writer, self.vouchers, self.lines = writer, frames.vouchers, frames.lines
        self.described = frames.described
        self._made: dict[str, pl.Expr] | None = None
        self._check(doc)
        used = self.lines.select("account", "dims").unique()
        self.top = writer.preamble(
            doc,
            {
                (account, tuple((d["dim"], d["object"]) for d in dims))
                for account, dims in used.iter_rows()
            },
        )
        self._series = self._identifiers()
        self._dates = self._date_texts()
        self._texts = self._text_table()
        self._notices()
        # Each voucher's and line's text by its row in the table (gathered chunk by chunk).
        codes = self._texts.select("raw").with_row_index(_CODE)
        self.vouchers, self.lines = (
            frame.join(codes, left_on="text", right_on="raw", how="left", maintain_order="left")
            for frame in (self.vouchers, self.lines)
        )

    def _check(self, doc: SieDocument) -> None:
        """What `_Writer.check_voucher` and `check_numbers` refuse, found on the columns;
        and amounts too large to sum exactly."""
        vouchers, lines = self.vouchers, self.lines
        n = vouchers.height
        amount = pl.col("amount")
        # Not abs(): abs(-2^63) wraps to -2^63. Sums in Int128: a voucher of many lines each
        # within the bound can add up past Int64 (to 2^64, which would wrap to a balance).
        if lines.select(((amount > _LARGEST) | (amount < -_LARGEST)).any()).item():
            raise _Unusual
        sums = lines.group_by(VOUCHER).agg(amount.cast(pl.Int128).sum())
        if sums.height != n or (sums["amount"] != 0).any():
            raise _Unusual  # a voucher without rows, or one that does not balance
        years = doc.fiscal_years
        if years and n:
            day = pl.col("date")
            inside = pl.any_horizontal([day.is_between(y.start, y.end) for y in years])
            if not vouchers.select(inside.all()).item():
                raise _Unusual
        numbered = vouchers.filter(pl.col("number").is_not_null())
        if numbered.select((pl.col("number").diff().over("series") <= 0).any()).item():
            raise _Unusual

    def _identifiers(self) -> dict[str, str]:
        """Each series as `#VER` starts with it; object ids and dimensions checked (the
        chart checked the ids; dimension numbers are checked when written)."""
        writer = self.writer
        series = {}
        for value in self.vouchers["series"].unique().to_list():
            try:
                series[value] = "#VER " + _format_field(writer.plain(value, "series"))
            except SieError:
                raise _Unusual from None
        dims = self.lines["dims"].explode(empty_as_null=False).struct.field("dim")
        if (dims < 1).any():
            raise _Unusual
        quantity = self.lines["quantity"]
        if quantity.str.contains("[A-Za-z]").any():  # NaN, Infinity: not a number
            raise _Unusual
        return series

    def _date_texts(self) -> dict[dt.date, str]:
        """Each date as SIE writes it (few distinct: formatted once each, by `_date`)."""
        days = (
            pl.concat([self.vouchers["date"], self.vouchers["reg_date"], self.lines["transdat"]])
            .drop_nulls()
            .unique()
        )
        return {day: _date(day) for day in days.to_list()}

    def _text_table(self) -> pl.DataFrame:
        """Each distinct voucher or row text (`raw`): as written (`text`: cleaned, cut,
        without a trailing backslash, as `_Writer._text` makes it), as a quoted field, and
        whether writing it gives a notice (`replaced`, `cut`, `stripped`)."""
        raw = pl.concat([self.vouchers["text"], self.lines["text"]]).unique()
        table = pl.DataFrame({"raw": raw})
        plain = (
            pl.col("raw").str.contains(_ASCII_TEXT)
            & ~pl.col("raw").str.contains("  ")
            & ~pl.col("raw").str.starts_with(" ")
            & ~pl.col("raw").str.ends_with(" ")
        )
        others = table.filter(~plain)["raw"].to_list()
        try:
            results = [_transliterate(value) for value in others]
        except cp437.UnencodableError:
            raise _Unusual from None
        table = pl.concat(
            [
                table.filter(plain).with_columns(text=pl.col("raw"), replaced=pl.lit(False)),
                pl.DataFrame(
                    {
                        "raw": others,
                        "text": [r.text for r in results],
                        "replaced": [bool(r.replaced) for r in results],
                    },
                    schema={"raw": pl.String, "text": pl.String, "replaced": pl.Boolean},
                ),
            ]
        )
        limit = self.writer.text_limit
        text = pl.col("text")
        cut = pl.lit(False) if limit is None else text.str.len_chars() > limit
        table = table.with_columns(cut=cut).with_columns(
            text=pl.when("cut")
            .then(text.str.slice(0, limit).str.strip_chars_end(" "))
            .otherwise(text)
        )
        table = table.with_columns(stripped=text.str.ends_with("\\")).with_columns(
            text=pl.when("stripped").then(text.str.strip_chars_end("\\ ")).otherwise(text)
        )
        return table.with_columns(field=_quoted(text))

    def _notices(self) -> None:
        """The notices the texts give, in the order the per-row path gives them: each time
        a cut or stripped text is written, and the first time a text with a replaced
        character is (later times report nothing new), through `_Writer._text`."""
        noted = self._texts.filter(pl.col("replaced") | pl.col("cut") | pl.col("stripped"))
        if not noted.height:
            return
        flags = noted.select("raw", "replaced", again=pl.col("cut") | pl.col("stripped"))
        # Where each text is written: a voucher's text before its lines' (position -1).
        where = (
            pl.concat(
                [
                    self.vouchers.select(VOUCHER, pl.lit(-1, pl.Int64).alias("at"), raw="text"),
                    self.lines.with_row_index("at").select(
                        VOUCHER, pl.col("at").cast(pl.Int64), raw="text"
                    ),
                ]
            )
            .join(flags, on="raw")
            .sort(VOUCHER, "at")
        )
        where = where.filter(pl.col("again") | pl.col("raw").is_first_distinct())
        writer, described = self.writer, self.described
        for i, raw in where.select(VOUCHER, "raw").iter_rows():
            v = described[i]
            writer._text(raw, _Where(v), v)

    def chunks(self, checksum: bool) -> Iterator[tuple[str, str]]:
        """The vouchers' lines (CRLF after each), built whole vouchers of about
        `_CHUNK_LINES` lines at a time and handed out `_PIECE` lines at a time; with each
        piece, the contents #KSUMMA covers ('' without a checksum)."""
        lines, n = self.lines, self.vouchers.height
        if not n:
            return
        # Each voucher's first line; a chunk is the vouchers whose first lines fall in one
        # stretch of `_CHUNK_LINES` (a larger voucher is a chunk of its own).
        starts = lines[VOUCHER].search_sorted(pl.int_range(n, dtype=pl.Int64, eager=True))
        stretch = starts // _CHUNK_LINES
        edges = stretch.search_sorted(stretch.unique(maintain_order=True)).to_list() + [n]
        ends = starts.gather(edges[1:-1]).to_list() + [lines.height]
        line = 0
        for a, b, end in zip(edges[:-1], edges[1:], ends, strict=True):
            out = self._chunk(self.vouchers[a:b], lines[line:end], a, checksum)
            for at in range(0, out.height, _PIECE):
                piece = out.slice(at, _PIECE)
                yield (
                    piece["text"].str.join("").item(),
                    piece["contents"].str.join("").item() if checksum else "",
                )
            line = end

    def _chunk(
        self, vouchers: pl.DataFrame, lines: pl.DataFrame, first: int, checksum: bool
    ) -> pl.DataFrame:
        """One text a line of `lines` (a voucher's first line led by its #VER and `{`, its
        last followed by `}`) and its #KSUMMA contents; `first` is the first voucher's
        number."""
        texts, e = self._texts, self._expressions
        vouchers = vouchers.with_columns(
            text_written=texts["text"].gather(vouchers[_CODE]),
            field=texts["field"].gather(vouchers[_CODE]),
        )
        ver = vouchers.select(line=e["ver"], contents=e["ver_contents"])
        # Each line's voucher in this chunk; on a voucher's first line, that voucher's #VER.
        row = lines[VOUCHER] - first
        opening = pl.select(pl.when(row != row.shift(1).fill_null(-1)).then(row)).to_series()
        lines = lines.with_columns(
            text_written=texts["text"].gather(lines[_CODE]),
            field=texts["field"].gather(lines[_CODE]),
            day=vouchers["date"].gather(row),
            ver=ver["line"].gather(opening),
            ver_contents=ver["contents"].gather(opening),
        )
        return lines.select(
            text=e["trans"], contents=e["trans_contents"] if checksum else pl.lit("")
        )

    @property
    def _expressions(self) -> dict[str, pl.Expr]:
        """The text of #VER and #TRANS lines and their #KSUMMA contents, as expressions on
        a chunk's voucher and line frames (made once)."""
        if self._made is not None:
            return self._made
        dates = self._dates
        date = pl.col("date").replace_strict(dates, return_dtype=pl.String)
        reg = pl.col("reg_date").replace_strict(dates, default=None, return_dtype=pl.String)
        number = pl.col("number").cast(pl.String)
        ver = (
            pl.concat_str(
                [
                    pl.col("series").replace_strict(self._series, return_dtype=pl.String),
                    number.fill_null(_EMPTY),
                    date,
                    pl.col("field"),
                    reg,
                ],
                separator=" ",
                ignore_nulls=True,
            )
            + "\r\n"
            + BLOCK_OPEN
            + "\r\n"
        )
        ver_contents = pl.concat_str(
            [
                pl.lit("#VER"),
                pl.col("series"),
                number.fill_null(""),
                date,
                pl.col("text_written"),
                reg.fill_null(""),
            ]
        )
        transdat = pl.col("transdat")
        row_date = (
            pl.when(transdat.is_not_null() & (transdat != pl.col("day")))
            .then(transdat.replace_strict(dates, default=None, return_dtype=pl.String))
            .otherwise(pl.lit(""))
        )
        row_date_field = pl.when(row_date == "").then(pl.lit(_EMPTY)).otherwise(row_date)
        quantity, written = pl.col("quantity"), pl.col("text_written")
        # The fields after the amount, empty ones at the end left out (as `_format`).
        tail = (
            pl.when(quantity.is_not_null())
            .then(
                pl.concat_str(
                    [pl.lit(""), row_date_field, pl.col("field"), quantity], separator=" "
                )
            )
            .when(written != "")
            .then(pl.concat_str([pl.lit(""), row_date_field, pl.col("field")], separator=" "))
            .when(row_date != "")
            .then(" " + row_date)
            .otherwise(pl.lit(""))
        )
        dim = pl.element().struct.field("dim").cast(pl.String)
        obj = pl.element().struct.field("object")
        objects = pl.col("dims").list.eval(pl.concat_str([dim, _quoted(obj)], separator=" "))
        amount = format_sie_expr(pl.col("amount"))
        is_last = pl.col(VOUCHER) != pl.col(VOUCHER).shift(-1).fill_null(-1)
        trans = pl.concat_str(
            [
                pl.col("ver").fill_null(""),
                pl.lit("#TRANS "),
                pl.col("account"),
                pl.lit(" {"),
                objects.list.join(" "),
                pl.lit("} "),
                amount,
                tail,
                pl.when(is_last)
                .then(pl.lit("\r\n" + BLOCK_CLOSE + "\r\n"))
                .otherwise(pl.lit("\r\n")),
            ]
        )
        trans_contents = pl.concat_str(
            [
                pl.col("ver_contents").fill_null(""),
                pl.lit("#TRANS"),
                pl.col("account"),
                pl.col("dims").list.eval(pl.concat_str([dim, obj])).list.join(""),
                amount,
                row_date,
                written,
                quantity.fill_null(""),
            ]
        )
        self._made = {
            "ver": ver,
            "ver_contents": ver_contents,
            "trans": trans,
            "trans_contents": trans_contents,
        }
        return self._made


def _quoted(text: pl.Expr) -> pl.Expr:
    """`_quote` on a column."""
    return '"' + text.str.replace_all('"', '\\"', literal=True) + '"'
