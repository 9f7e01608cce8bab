"""Columnar floor of `seb`: SEB's CSV (BOM, ';', three decimals, newest first) to SIE with the
rules of mappings/bank.yaml that a SEB row can meet, first-match, one voucher a row (2 or 3
postings: two rules split VAT); the skip rule drops its rows, the rest go to 2999."""

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
    vat_of,
    ver_head,
    write,
)

NEG, POS = pl.col("ore") < 0, pl.col("ore") > 0
# (text regex, sign condition or None, account, VAT account or None); account None = skip
RULES = (
    ("(?i)stripe", None, 1580, None),
    ("(?i)i?zettle", None, 1581, None),
    ("(?i)skatteverket|skattekonto|^skatt", None, 1630, None),
    ("(?i)\\blön", NEG, 2821, None),
    ("(?i)avgift|pris enl spec|prisavisering", NEG, 6570, None),
    ("(?i)r[aä]nta", None, 8310, None),
    ("(?i)clas ohlson|biltema|jula", NEG, 5410, 2641),
    ("(?i)^swish inbetalning", POS, 3001, 2611),
    ("(?i)^(bg|bankgiro) ?(insättning|inbetalningar)", None, None, None),
    ("(?i)faktura \\d+", POS, 1510, None),
)
FALLBACK, BANK = 2999, 1930


def main() -> None:
    src, out, check = args()
    df = pl.read_csv(src, separator=";", encoding="utf8", infer_schema=False)
    refuse_malformed(df, ["Belopp"], r"^-?\d+\.\d\d0$", first_line=2)
    df = df.select(
        pl.col("Bokföringsdatum").str.to_date("%Y-%m-%d").alias("date"),
        pl.col("Text").alias("text"),
        ore(pl.col("Belopp")).alias("ore"),
    ).sort("date", maintain_order=True)
    if check:
        check_total(
            src,
            {"Belopp": int(df["ore"].sum())},
            delimiter=";",
            encoding="utf-8-sig",
            header_line="Bokföringsdatum",
            comma=False,
        )
    rule = None
    for i, (pattern, sign, _, _) in enumerate(RULES):
        cond = pl.col("text").str.contains(pattern)
        cond = cond & sign if sign is not None else cond
        rule = (pl.when(cond) if rule is None else rule.when(cond)).then(i)
    table = pl.DataFrame(
        {
            "rule": range(len(RULES) + 1),
            "account": [r[2] for r in RULES] + [FALLBACK],
            "vat_account": [r[3] for r in RULES] + [None],
        },
        schema={"rule": pl.Int32, "account": pl.Int64, "vat_account": pl.Int64},
    )
    df = (
        df.with_columns(rule.otherwise(len(RULES)).cast(pl.Int32).alias("rule"))
        .join(table, on="rule", how="left", maintain_order="left")
        .filter(pl.col("account").is_not_null())
    )
    vat = pl.when(pl.col("vat_account").is_not_null()).then(vat_of(-pl.col("ore"), 25))
    df = df.with_columns(vat.otherwise(0).alias("vat"))
    third = (
        pl.when(pl.col("vat_account").is_not_null())
        .then(pl.concat_str(pl.lit(NL), trans(pl.col("vat_account"), pl.col("vat"))))
        .otherwise(pl.lit(""))
    )
    text = df.select(
        pl.concat_str(
            ver_head("B", pl.col("date"), pl.col("text")),
            pl.lit(OPEN),
            trans(pl.lit(BANK), pl.col("ore")),
            pl.lit(NL),
            trans(pl.col("account"), -pl.col("ore") - pl.col("vat")),
            third,
            pl.lit(CLOSE),
        )
    ).to_series()
    write(out, "".join(text), df.height)


if __name__ == "__main__":
    main()
