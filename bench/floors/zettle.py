"""Columnar floor of `zettle_year`: Zettle's receipts report to one day close a day (the job of
mappings/pos.yaml): each payment method's takings on its account, card tips owed to the
staff, and sales and output VAT per rate (a receipt's gross per rate derived from its VAT)."""

from __future__ import annotations

import io

import polars as pl

from bench.floors.common import (
    args,
    check_total,
    ore,
    refuse_malformed,
    render_grouped,
    sie_text,
    trans,
    ver_head,
    write,
)

METHODS = {
    "Kontaktlös": 1581,
    "Chip": 1581,
    "Kort": 1580,
    "Swish": 1930,
    "Kontant": 1910,
    "Presentkort": 2421,
}
RATES = {25: (3001, 2611), 12: (3002, 2621), 6: (3003, 2631)}
TIPS = 2829
MONEY = ["Moms (25%)", "Moms (12%)", "Moms (6%)", "Totalt", "Dricks"]


def main() -> None:
    src, out, check = args()
    raw = src.read_bytes()
    start = raw.index(b"Datum;Tid;")
    end = raw.find(b"\n\n", start)  # a blank row ends the table; the footer follows
    df = pl.read_csv(
        io.BytesIO(raw[start : end + 1 if end > 0 else None]), separator=";", infer_schema=False
    )
    refuse_malformed(df, MONEY, r"^-?\d+(,\d{1,2})?$", first_line=raw[:start].count(b"\n") + 2)
    df = df.select(
        pl.col("Datum").str.to_date("%Y-%m-%d").alias("day"),
        pl.col("Betalningsmetod").alias("method"),
        *[ore(pl.col(c), ",").alias(c) for c in MONEY],
    )
    if check:
        check_total(
            src,
            {c: int(df[c].sum()) for c in ("Totalt", "Dricks")},
            delimiter=";",
            encoding="utf-8",
            header_line="Datum;Tid;",
            comma=True,
        )
    assert df["method"].is_in(list(METHODS)).all(), "a payment method without an account"
    vat = {r: pl.col(f"Moms ({r}%)") for r in RATES}
    main_rate = (
        pl.when((vat[25].abs() >= vat[12].abs()) & (vat[25].abs() >= vat[6].abs()))
        .then(25)
        .when(vat[12].abs() >= vat[6].abs())
        .then(12)
        .otherwise(6)
    )
    # A receipt's gross per rate: its main rate takes what the other rates' VAT leaves.
    derived = {r: pl.when(main_rate == r).then(0).otherwise(vat[r] * (100 + r) // r) for r in RATES}
    rest = pl.col("Totalt") - pl.col("Dricks") - sum(derived.values())
    df = df.with_columns(
        *[pl.when(main_rate == r).then(rest).otherwise(derived[r]).alias(f"g{r}") for r in RATES]
    )
    method_lines = (
        df.group_by("day", "method")
        .agg(pl.col("Totalt").sum().alias("amount"))
        .with_columns(
            pl.col("method").replace_strict(METHODS).alias("account"),
            pl.col("method").alias("text"),
            pl.lit(0).alias("order"),
        )
    )
    day = df.group_by("day").agg(
        pl.col("Dricks").sum(),
        *[pl.col(f"g{r}").sum() for r in RATES],
        *[vat[r].sum().alias(f"v{r}") for r in RATES],
    )
    rate_lines = [
        day.select(
            "day",
            pl.lit(TIPS).alias("account"),
            (-pl.col("Dricks")).alias("amount"),
            pl.lit("Dricks").alias("text"),
            pl.lit(1).alias("order"),
        )
    ]
    for i, (r, (sales, output)) in enumerate(RATES.items()):
        g, v = pl.col(f"g{r}"), pl.col(f"v{r}")  # the VAT the receipts state, added up
        rate_lines += [
            day.select(
                "day",
                pl.lit(sales).alias("account"),
                (v - g).alias("amount"),
                pl.lit(f"Försäljning {r} %").alias("text"),
                pl.lit(2 + 2 * i).alias("order"),
            ),
            day.select(
                "day",
                pl.lit(output).alias("account"),
                (-v).alias("amount"),
                pl.lit(f"Utgående moms {r} %").alias("text"),
                pl.lit(3 + 2 * i).alias("order"),
            ),
        ]
    lines = pl.concat(
        [method_lines.select("day", "account", "amount", "text", "order"), *rate_lines],
        how="vertical_relaxed",
    ).filter(pl.col("amount") != 0)
    lines = lines.sort("day", "order", "account", "text").select(
        "day",
        ver_head("K", pl.col("day"), pl.lit("Z zettle")).alias("head"),
        pl.concat_str(
            trans(pl.col("account"), pl.col("amount")), pl.lit(' "" '), sie_text(pl.col("text"))
        ).alias("line"),
    )
    write(out, render_grouped(lines, ["day"]), lines["day"].n_unique())


if __name__ == "__main__":
    main()
