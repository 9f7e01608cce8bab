"""Columnar floor of `stripe_100k`/`stripe_1m`: Stripe's balance export to SIE by the rules of
mappings/stripe.yaml, first-match; net, fee and gross (VAT split at 25 %) a row, added up per
Swedish day, account, dimension and side: one voucher a day, as bokfor's per_day grouping.
`--parse-only` stops after reading and parsing (the floor of `stripe_1m_plan`)."""

from __future__ import annotations

import sys

import polars as pl

from bench.floors.common import (
    args,
    check_total,
    ore,
    refuse_malformed,
    render_grouped,
    trans,
    vat_of,
    ver_head,
    write,
)

T, D = pl.col("Type"), pl.col("Description")
EXPORT = pl.col("vat_country (metadata)").is_in(["NO", "CH", "GB", "US"])
SALE, REFUND = T.is_in(["charge", "payment"]), T.is_in(["refund", "payment_refund"])
WEB = '{1 "WEB"}'
# (condition, account credited the gross, VAT 25 % split off, dimension)
RULES = (
    (SALE & EXPORT, 3105, False, WEB),
    (SALE, 3001, True, WEB),
    (REFUND & EXPORT, 3105, False, WEB),
    (
        T.is_in(
            [
                "refund",
                "payment_refund",
                "refund_failure",
                "partial_capture_reversal",
                "payment_failure_refund",
            ]
        ),
        3001,
        True,
        WEB,
    ),
    (T.is_in(["stripe_fee", "tax", "network_cost", "stripe_fx_fee"]), 6570, False, "{}"),
    ((T == "adjustment") & D.str.contains("^Chargeback withdrawal"), 1515, False, "{}"),
    ((T == "adjustment") & D.str.contains("^Chargeback reversal"), 1515, False, "{}"),
    ((T == "adjustment") & (pl.col("gross") > 0), 3990, False, "{}"),
    (T == "adjustment", 6990, False, "{}"),
    (
        T.is_in(["payout", "payout_failure", "payout_cancel", "topup", "topup_reversal"]),
        1930,
        False,
        "{}",
    ),
    (
        T.is_in(
            [
                "reserve_transaction",
                "reserved_funds",
                "risk_reserved_funds",
                "connect_reserved_funds",
            ]
        ),
        1680,
        False,
        "{}",
    ),
    (T.is_in(["application_fee", "application_fee_refund"]), 3990, False, "{}"),
    (
        T.is_in(["transfer", "transfer_cancel", "transfer_failure", "transfer_refund"]),
        2890,
        False,
        "{}",
    ),
    (
        T.is_in(["contribution", "climate_order_purchase", "climate_order_refund"]),
        6990,
        False,
        "{}",
    ),
)
POSTINGS = pl.DataFrame(
    {
        "rule": range(len(RULES)),
        "account": [r[1] for r in RULES],
        "vat": [r[2] for r in RULES],
        "dims": [r[3] for r in RULES],
    },
    schema={"rule": pl.Int32, "account": pl.Int64, "vat": pl.Boolean, "dims": pl.String},
)
CLEARING, FEES, VAT = 1580, 6570, 2611


def main() -> None:
    src, out, check = args()
    df = pl.read_csv(src, infer_schema=False)
    refuse_malformed(df, ["Amount", "Fee", "Net"], r"^-?\d+(\.\d{1,2})?$", first_line=2)
    df = df.with_columns(
        ore(pl.col("Amount")).alias("gross"),
        ore(pl.col("Fee")).alias("fee"),
        ore(pl.col("Net")).alias("net"),
        pl.col("Created (UTC)")
        .str.to_datetime("%Y-%m-%d %H:%M", time_zone="UTC")
        .dt.convert_time_zone("Europe/Stockholm")
        .dt.date()
        .alias("day"),
    )
    assert (df["gross"] - df["fee"] == df["net"]).all() and (df["Currency"] == "sek").all()
    if "--parse-only" in sys.argv:
        print(f"{df.height} rows")
        return
    if check:
        totals = {c: int(df[n].sum()) for c, n in (("Amount", "gross"), ("Fee", "fee"))}
        check_total(src, totals, delimiter=",", encoding="utf-8", header_line="id,", comma=False)
    rule = pl.when(RULES[0][0]).then(0)
    for i, (cond, *_) in enumerate(RULES[1:], 1):
        rule = rule.when(cond).then(i)
    df = df.with_columns(rule.cast(pl.Int32).alias("rule"))
    assert df["rule"].null_count() == 0, "unmapped rows"
    df = df.join(POSTINGS, on="rule", how="left").with_columns(
        pl.when(pl.col("vat")).then(vat_of(-pl.col("gross"), 25)).otherwise(0).alias("v")
    )
    lines = pl.concat(
        [
            df.select(
                "day",
                pl.lit(CLEARING, pl.Int64).alias("account"),
                pl.lit("{}").alias("dims"),
                pl.col("net").alias("amount"),
            ),
            df.select(
                "day",
                pl.lit(FEES, pl.Int64).alias("account"),
                pl.lit("{}").alias("dims"),
                pl.col("fee").alias("amount"),
            ),
            df.select("day", "account", "dims", (-pl.col("gross") - pl.col("v")).alias("amount")),
            df.select(
                "day",
                pl.lit(VAT, pl.Int64).alias("account"),
                pl.lit("{}").alias("dims"),
                pl.col("v").alias("amount"),
            ),
        ]
    ).filter(pl.col("amount") != 0)
    lines = (
        lines.group_by("day", "account", "dims", (pl.col("amount") > 0).alias("debit"))
        .agg(pl.col("amount").sum())
        .filter(pl.col("amount") != 0)
        .sort("day", "account", "debit", "dims", descending=[False, False, True, False])
        .select(
            "day",
            ver_head(
                "S",
                pl.col("day"),
                pl.concat_str(pl.lit("Stripe "), pl.col("day").dt.strftime("%Y-%m-%d")),
            ).alias("head"),
            trans(pl.col("account"), pl.col("amount"), pl.col("dims")).alias("line"),
        )
    )
    write(out, render_grouped(lines, ["day"]), lines["day"].n_unique())


if __name__ == "__main__":
    main()
