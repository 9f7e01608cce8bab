"""Columnar floor of `bank_peers`: the peers' `date;text;amount` CSV (decimal comma) to SIE,
the 3 rules of bench/mappings/peers.yaml first-match, one voucher of 2 postings a row."""

from __future__ import annotations

import polars as pl

from bench.floors.common import (
    CLOSE,
    NL,
    OPEN,
    args,
    check_total,
    ore,
    refuse_malformed,
    trans,
    ver_head,
    write,
)

RULES = (("(?i)stripe", 1580), ("(?i)zettle", 1581), ("(?i)skatteverket", 1630))
FALLBACK, BANK = 2999, 1930


def main() -> None:
    src, out, check = args()
    df = pl.read_csv(
        src,
        separator=";",
        schema_overrides={"date": pl.String, "text": pl.String, "amount": pl.String},
    )
    refuse_malformed(df, ["amount"], r"^-?\d+(,\d{1,2})?$", first_line=2)
    chain = pl.when(pl.col("text").str.contains(RULES[0][0])).then(RULES[0][1])
    for pattern, account in RULES[1:]:
        chain = chain.when(pl.col("text").str.contains(pattern)).then(account)
    df = df.select(
        pl.col("date").str.to_date("%Y-%m-%d"),
        "text",
        ore(pl.col("amount"), ",").alias("ore"),
        chain.otherwise(FALLBACK).alias("account"),
    )
    if check:
        check_total(
            src,
            {"amount": int(df["ore"].sum())},
            delimiter=";",
            encoding="utf-8",
            header_line="date;",
            comma=True,
        )
    text = df.select(
        pl.concat_str(
            ver_head("B", pl.col("date"), pl.col("text")),
            pl.lit(OPEN),
            trans(pl.lit(BANK), pl.col("ore")),
            pl.lit(NL),
            trans(pl.col("account"), -pl.col("ore")),
            pl.lit(CLOSE),
        )
    ).to_series()
    write(out, "".join(text), df.height)


if __name__ == "__main__":
    main()
