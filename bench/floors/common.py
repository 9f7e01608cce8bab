"""What every columnar floor shares: exact öre parsing, VAT split, SIE text, the Decimal check."""

from __future__ import annotations

import csv
import sys
from decimal import Decimal
from pathlib import Path

import polars as pl

NL = "\r\n"  # bokfor writes SIE lines with CRLF
OPEN, CLOSE = f"{NL}{{{NL}", f"{NL}}}{NL}"  # around a voucher's #TRANS lines


def args() -> tuple[Path, Path, bool]:
    """FILE OUT [--check] from the command line (other --flags are the script's own)."""
    rest = [a for a in sys.argv[1:] if not a.startswith("--")]
    return Path(rest[0]), Path(rest[1]), "--check" in sys.argv


def ore(text: pl.Expr, mark: str = ".", decimals: int = 2) -> pl.Expr:
    """Öre from amount text such as '-1234,50' by splitting at the mark: exact, no float.
    `decimals` > 2 keeps the first two (the caller's pattern has checked the rest are 0)."""
    parts = text.str.strip_prefix("-").str.split_exact(mark, 1)
    frac = parts.struct.field("field_1").fill_null("").str.slice(0, 2).str.pad_end(2, "0")
    value = parts.struct.field("field_0").cast(pl.Int64) * 100 + frac.cast(pl.Int64)
    return pl.when(text.str.starts_with("-")).then(-value).otherwise(value)


def refuse_malformed(df: pl.DataFrame, columns: list[str], pattern: str, first_line: int) -> None:
    """Stop on the first amount that is not exactly `pattern` (one mask, no row loop)."""
    for name in columns:
        bad = df.with_row_index("i").filter(~pl.col(name).str.contains(pattern))
        if bad.height:
            i, text = bad.row(0, named=True)["i"], bad.row(0, named=True)[name]
            sys.exit(f"line {first_line + i}: {name} {text!r} is not an exact amount")


def vat_of(gross: pl.Expr, rate: int) -> pl.Expr:
    """VAT inside a VAT-inclusive amount, rounded half away from zero (money.split_vat)."""
    num, den = gross.abs() * rate, 100 + rate
    q = num // den + ((num % den) * 2 >= den).cast(pl.Int64)
    return pl.when(gross < 0).then(-q).otherwise(q)


def sie_amount(value: pl.Expr) -> pl.Expr:
    """'-1234.50' from öre (money.format_sie)."""
    a = value.abs()
    return pl.concat_str(
        pl.when(value < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // 100).cast(pl.String),
        pl.lit("."),
        (a % 100).cast(pl.String).str.zfill(2),
    )


def sie_text(text: pl.Expr, limit: int = 50) -> pl.Expr:
    """A quoted SIE text field, runs of spaces made one, cut at the mapping's text limit."""
    cut = text.str.replace_all(r"\s+", " ").str.slice(0, limit)
    return pl.concat_str(pl.lit('"'), cut.str.replace_all('"', '\\"', literal=True), pl.lit('"'))


def ver_head(series: str, date: pl.Expr, text: pl.Expr) -> pl.Expr:
    return pl.concat_str(
        pl.lit(f'#VER {series} "" '), date.dt.strftime("%Y%m%d"), pl.lit(" "), sie_text(text)
    )


def trans(account: pl.Expr, amount: pl.Expr, dims: pl.Expr | None = None) -> pl.Expr:
    return pl.concat_str(
        pl.lit("#TRANS "),
        account.cast(pl.String),
        pl.lit(" "),
        dims if dims is not None else pl.lit("{}"),
        pl.lit(" "),
        sie_amount(amount),
    )


def render_grouped(lines: pl.DataFrame, keys: list[str]) -> str:
    """Vouchers from a lines frame (columns `head`, `line`, sorted): one per `keys` group."""
    vouchers = lines.group_by(keys, maintain_order=True).agg(
        pl.col("head").first(), pl.col("line").str.join(NL)
    )
    return "".join(
        vouchers.select(
            pl.concat_str(pl.col("head"), pl.lit(OPEN), pl.col("line"), pl.lit(CLOSE))
        ).to_series()
    )


def write(out: Path, text: str, vouchers: int) -> None:
    """The SIE text in PC8 (CP437), as bokfor writes it, and the voucher count."""
    head = f"#FLAGGA 0{NL}#FORMAT PC8{NL}#SIETYP 4{NL}"
    out.write_bytes(head.encode() + text.encode("cp437", "replace"))
    print(f"{vouchers} vouchers")


def check_total(
    path: Path,
    totals: dict[str, int],
    *,
    delimiter: str,
    encoding: str,
    header_line: str,
    comma: bool,
) -> None:
    """Assert each column's öre total equals Decimal's sum of the same file (csv module),
    reading the table from the line that starts with `header_line` to the first blank row."""
    with open(path, newline="", encoding=encoding) as src:
        for line in src:
            if line.startswith(header_line):
                break
        header = next(csv.reader([line], delimiter=delimiter))
        want = {name: Decimal(0) for name in totals}
        at = {name: header.index(name) for name in totals}
        for row in csv.reader(src, delimiter=delimiter):
            if not row or not row[0]:
                break
            for name, i in at.items():
                want[name] += Decimal(row[i].replace(",", ".") if comma else row[i])
    for name, total in totals.items():
        assert Decimal(total) / 100 == want[name], (name, total, want[name])
    print("totals equal Decimal's: " + ", ".join(f"{n} {want[n]}" for n in totals))
