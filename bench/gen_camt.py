"""Generate a large, realistic ISO 20022 camt.053.001.02 statement for benchmarks.

    python bench/gen_camt.py --entries 100000 out.xml [--seed 1]

The shape is what a Swedish bank (SEB, Handelsbanken) sends as its end-of-day/month statement
for Exempelbolaget's SEK account: one `Stmt` with opening and closing booked balances and a
`TxsSummry`, then the entries, oldest first. About a quarter of the entries are bankgiro
deposits (one `Ntry` with `NtryDtls/Btch` and 2-6 `TxDtls`, each a payer with a Luhn-valid OCR
reference); the rest are single entries: card purchases, Swish payments in and out, Stripe and
Zettle payouts, salaries, tax-account transfers and fees. Every entry and every transaction
has its own `AcctSvcrRef`, so the file passes bokfor's checks and keys.

Why two passes over the random generator: in camt the balances and the transaction summary
come *before* the entries, yet they are sums over them. The generator is therefore run once to
add the entries up and once, from the same seed, to write them, so nothing is kept in memory and
100,000 entries stream to disk at constant RSS. Amounts are integer öre; no float touches money.
The same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path
from typing import Iterator, NamedTuple, TextIO

IBAN = "SE4550000000058398257466"
BIC = "ESSESESS"
BANKGIRO = "5402-6380"
ORGNR = "5566778899"
OPENING = 48_512_50  # 48 512,50 SEK at the start of the period
FIRST_DAY = dt.date(2026, 1, 1)

NAMES = (
    "Anna Lindqvist",
    "Erik Sjöberg",
    "Maja Åkesson",
    "Oskar Nyström",
    "Lina Berg",
    "Sara Holm",
    "Johan Ek",
    "Karl Dahl",
    "Elin Forsberg",
    "Nils Wikström",
    "Björn Öberg",
    "Märta Lindgren",
    "Göran Falk",
    "Åsa Nordin",
)
COMPANIES = (
    "Kafé Söder AB",
    "Bröd & Bönor HB",
    "Ängens Trädgård AB",
    "Nordiska Kök AB",
    "Hälsokost i Malmö AB",
    "Örebro Catering AB",
    "Fjällstugan Åre AB",
)
MERCHANTS = (
    "ICA NARA ODEN",
    "CLAS OHLSON",
    "BAUHAUS SUNDB",
    "SJ AB",
    "ESSO BROMMA",
    "MAX BURGERS",
    "JULA KUNGSB",
    "KJELL & CO",
    "SPOTIFY",
    "GOOGLE *CLOUD",
)


class Tx(NamedTuple):
    ref: str  # the transaction's AcctSvcrRef
    amount: int  # öre, positive
    name: str
    account: str  # payer's bankgiro number (BGNR)
    ocr: str


class Entry(NamedTuple):
    ref: str  # the entry's AcctSvcrRef
    day: dt.date
    amount: int  # öre, positive
    credit: bool
    domain: tuple[str, str, str]  # BkTxCd/Domn Cd, Fmly/Cd, SubFmlyCd
    proprietary: str  # BkTxCd/Prtry/Cd
    info: str  # AddtlNtryInf
    counterparty: str
    txs: tuple[Tx, ...]  # empty: a single entry with its details inline


def luhn_append(digits: str) -> str:
    """`digits` with its Luhn (mod 10) check digit appended: a valid Swedish OCR number."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


def generate(count: int, seed: int) -> Iterator[Entry]:
    """The entries, oldest first, spread evenly over January 2026."""
    rng = random.Random(seed)
    per_day = max(1, -(-count // 31))
    for n in range(count):
        day = FIRST_DAY + dt.timedelta(days=min(30, n // per_day))
        ref = f"{day:%Y%m%d}{n:09d}"
        kind = rng.random()
        if kind < 0.25:
            txs = []
            for i in range(rng.randint(2, 6)):
                amount = rng.randint(100, 250_000) * 100 + rng.choice((0, 0, 50, 95))
                ocr = luhn_append(str(rng.randint(10**5, 10**12)))
                account = f"{rng.randint(100, 9999)}-{rng.randint(1000, 9999)}"
                name = rng.choice(COMPANIES + NAMES)
                txs.append(Tx(f"{ref}{i + 1:03d}", amount, name, account, ocr))
            yield Entry(
                ref,
                day,
                sum(t.amount for t in txs),
                True,
                ("PMNT", "RCDT", "DMCT"),
                "BGC",
                f"BG {BANKGIRO} INBETALNINGAR",
                "",
                tuple(txs),
            )
        elif kind < 0.55:
            amount = rng.randint(20, 250_000)
            merchant = rng.choice(MERCHANTS)
            yield Entry(
                ref,
                day,
                amount,
                False,
                ("PMNT", "CCRD", "POSD"),
                "KORT",
                f"{merchant}/{day:%y-%m-%d}",
                merchant,
                (),
            )
        elif kind < 0.75:
            amount = rng.randint(50, 3000) * 100
            credit = rng.random() < 0.7
            name = rng.choice(NAMES)
            info = f"Swish {'inbetalning' if credit else 'betalning'} {name.upper()}"
            yield Entry(
                ref,
                day,
                amount,
                credit,
                ("PMNT", "RCDT" if credit else "ICDT", "DMCT"),
                "MOB",
                info,
                name,
                (),
            )
        elif kind < 0.85:
            stripe = rng.random() < 0.5
            amount = rng.randint(1_000, 90_000) * 100 + rng.randint(0, 99)
            text = "STRIPE PAYMENTS EUROPE" if stripe else "ZETTLE PAYOUT"
            name = "Stripe Technology Europe Ltd" if stripe else "PayPal (Europe) S.à r.l. et Cie"
            yield Entry(ref, day, amount, True, ("PMNT", "RCDT", "ESCT"), "OVF", text, name, ())
        elif kind < 0.93:
            amount = rng.randint(20_000, 45_000) * 100
            yield Entry(
                ref,
                day,
                amount,
                False,
                ("PMNT", "ICDT", "DMCT"),
                "LON",
                "LÖN JANUARI",
                rng.choice(NAMES),
                (),
            )
        elif kind < 0.97:
            amount = rng.randint(5_000, 60_000) * 100
            yield Entry(
                ref,
                day,
                amount,
                False,
                ("PMNT", "ICDT", "DMCT"),
                "BGC",
                "SKATTEKONTO 16" + ORGNR,
                "Skatteverket",
                (),
            )
        else:
            amount = rng.choice((2_500, 4_900, 12_500, 35_000))
            yield Entry(
                ref, day, amount, False, ("ACMT", "MDOP", "CHRG"), "AVG", "PRIS ENL SPEC", "", ()
            )


def money(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


def balance(out: TextIO, code: str, ore: int, day: dt.date) -> None:
    out.write(f"""      <Bal>
        <Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>
        <Amt Ccy="SEK">{money(abs(ore))}</Amt>
        <CdtDbtInd>{"CRDT" if ore >= 0 else "DBIT"}</CdtDbtInd>
        <Dt><Dt>{day.isoformat()}</Dt></Dt>
      </Bal>
""")


def write_entry(out: TextIO, e: Entry) -> None:
    ind = "CRDT" if e.credit else "DBIT"
    day = e.day.isoformat()
    cd, fmly, sub = e.domain
    out.write(f"""      <Ntry>
        <Amt Ccy="SEK">{money(e.amount)}</Amt>
        <CdtDbtInd>{ind}</CdtDbtInd>
        <Sts>BOOK</Sts>
        <BookgDt><Dt>{day}</Dt></BookgDt>
        <ValDt><Dt>{day}</Dt></ValDt>
        <AcctSvcrRef>{e.ref}</AcctSvcrRef>
        <BkTxCd>
          <Domn><Cd>{cd}</Cd><Fmly><Cd>{fmly}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn>
          <Prtry><Cd>{e.proprietary}</Cd><Issr>SEB</Issr></Prtry>
        </BkTxCd>
        <NtryDtls>
""")
    if e.txs:
        out.write(f"""          <Btch>
            <NbOfTxs>{len(e.txs)}</NbOfTxs>
            <TtlAmt Ccy="SEK">{money(e.amount)}</TtlAmt>
            <CdtDbtInd>CRDT</CdtDbtInd>
          </Btch>
""")
        for t in e.txs:
            out.write(f"""          <TxDtls>
            <Refs><AcctSvcrRef>{t.ref}</AcctSvcrRef><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
            <AmtDtls><TxAmt><Amt Ccy="SEK">{money(t.amount)}</Amt></TxAmt></AmtDtls>
            <RltdPties>
              <Dbtr><Nm>{t.name.replace("&", "&amp;")}</Nm></Dbtr>
              <DbtrAcct><Id><Othr><Id>{t.account}</Id><SchmeNm><Prtry>BGNR</Prtry></SchmeNm></Othr></Id></DbtrAcct>
            </RltdPties>
            <RmtInf><Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{t.ocr}</Ref></CdtrRefInf></Strd></RmtInf>
          </TxDtls>
""")
    else:
        party = ""
        if e.counterparty:
            role = "Dbtr" if e.credit else "Cdtr"
            party = (
                f"\n            <RltdPties><{role}><Nm>{e.counterparty.replace('&', '&amp;')}"
                f"</Nm></{role}></RltdPties>"
            )
        out.write(f"""          <TxDtls>
            <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>{party}
            <RmtInf><Ustrd>{e.info.replace("&", "&amp;")}</Ustrd></RmtInf>
          </TxDtls>
""")
    out.write(f"""        </NtryDtls>
        <AddtlNtryInf>{e.info.replace("&", "&amp;")}</AddtlNtryInf>
      </Ntry>
""")


def write_camt053(path: Path | str, entries: int, seed: int = 1) -> None:
    """Write a camt.053.001.02 statement with `entries` entries to `path`, streaming."""
    count = entries
    credits = debits = n_credit = n_debit = 0
    last_day = FIRST_DAY
    for e in generate(count, seed):
        if e.credit:
            credits, n_credit = credits + e.amount, n_credit + 1
        else:
            debits, n_debit = debits + e.amount, n_debit + 1
        last_day = e.day
    closing = OPENING + credits - debits
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <BkToCstmrStmt>
    <GrpHdr>
      <MsgId>SEB053{seed:06d}{count:09d}</MsgId>
      <CreDtTm>{last_day + dt.timedelta(days=1)}T05:12:09</CreDtTm>
      <MsgPgntn><PgNb>1</PgNb><LastPgInd>true</LastPgInd></MsgPgntn>
    </GrpHdr>
    <Stmt>
      <Id>{IBAN}-202601</Id>
      <ElctrncSeqNb>1</ElctrncSeqNb>
      <CreDtTm>{last_day + dt.timedelta(days=1)}T05:12:09</CreDtTm>
      <FrToDt><FrDtTm>{FIRST_DAY}T00:00:00</FrDtTm><ToDtTm>{last_day}T23:59:59</ToDtTm></FrToDt>
      <Acct>
        <Id><IBAN>{IBAN}</IBAN></Id>
        <Ccy>SEK</Ccy>
        <Ownr><Nm>Exempelbolaget i Sverige AB</Nm><Id><OrgId><Othr><Id>{ORGNR}</Id></Othr></OrgId></Id></Ownr>
        <Svcr><FinInstnId><BIC>{BIC}</BIC></FinInstnId></Svcr>
      </Acct>
""")
        balance(out, "OPBD", OPENING, FIRST_DAY - dt.timedelta(days=1))
        balance(out, "CLBD", closing, last_day)
        out.write(f"""      <TxsSummry>
        <TtlNtries><NbOfNtries>{count}</NbOfNtries><Sum>{money(credits + debits)}</Sum></TtlNtries>
        <TtlCdtNtries><NbOfNtries>{n_credit}</NbOfNtries><Sum>{money(credits)}</Sum></TtlCdtNtries>
        <TtlDbtNtries><NbOfNtries>{n_debit}</NbOfNtries><Sum>{money(debits)}</Sum></TtlDbtNtries>
      </TxsSummry>
""")
        for e in generate(count, seed):
            write_entry(out, e)
        out.write("""    </Stmt>
  </BkToCstmrStmt>
</Document>
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    write_camt053(args.out, args.entries, args.seed)


if __name__ == "__main__":
    main()
