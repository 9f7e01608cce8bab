"""The fast camt reader against a model: generated camt.053 statements (single entries,
bankgiro batches with and without `Btch` totals, v02 and v04+ transaction amounts, structured
references, charges, reversals, repeated bank references, pending entries, a namespace
prefix) must give exactly the rows and notices the model says, key, date, amount, fields and
origin line included. Issue 9 made the reader faster; this catches any divergence."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bokfor.domain import Notice, Origin, Row
from bokfor.errors import InputError
from bokfor.money import format_sek
from bokfor.sources import OccurrenceKeys, bank
from bokfor.sources.camt import SOURCE

IBAN = "SE45 5000 0000 0583 9825 7466"  # as a bank may write it: the key normalises it
TZ = ZoneInfo("Europe/Stockholm")
DAY0 = dt.date(2026, 1, 1)
SEK = ' Ccy="SEK"'

_refs = st.sampled_from(["", "", "R1", "R2", "R3"])  # few values: refs repeat, keys fall back
_name = st.sampled_from(["", "Anna Lindqvist", "Kafé  Söder AB", "Bröd & Bönor HB"])
_text = st.sampled_from(["", "Faktura 1042", "LÖN  JANUARI", "Swish inbetalning"])
_ocr = st.sampled_from(["4000123456788", "12345674", "8353516329237"])

_tx = st.fixed_dictionaries(
    {
        "amount": st.integers(1, 10_000_00),
        "v04": st.booleans(),  # TxDtls/Amt (v04+) or AmtDtls/TxAmt/Amt (v02)
        "ref": _refs,
        "e2e": st.sampled_from(["", "NOTPROVIDED", "NotProvided", "E2E-1"]),
        "debtor": _name,
        "creditor": _name,
        "ultimate_debtor": _name,
        "debtor_account": st.sampled_from(["", "5402-9936"]),
        "creditor_account": st.sampled_from(["", "SE3550000000054910000003"]),
        "ustrd": st.lists(_text, max_size=2),
        "references": st.lists(_ocr, max_size=3),
        "info": _text,
        "code": st.sampled_from(["", "", "BGC"]),  # TxDtls/BkTxCd/Prtry/Cd
        "charges": st.booleans(),
    }
)
_entry = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["BOOK"] * 6 + ["PDNG", "INFO"]),
        "credit": st.booleans(),
        "reversal": st.booleans(),
        "day": st.integers(0, 3),
        "value_day": st.one_of(st.none(), st.integers(0, 3)),
        "ref": _refs,
        "ntry_ref": st.sampled_from(["", "N7"]),
        "info": _text,
        "domain": st.booleans(),
        "charges": st.booleans(),
        "txs": st.lists(_tx, max_size=4),
        "btch": st.sampled_from(["none", "count", "total", "both"]),
    }
)


def _amount(ore: int) -> str:
    return f"{ore // 100}.{ore % 100:02d}"


Entry = dict  # type: ignore[type-arg]


def _write(entries: list[Entry], prefix: str) -> tuple[str, list[int], list[list[int]]]:
    """The document, one element per line, with the line of each `Ntry` and `TxDtls`."""
    p = f"{prefix}:" if prefix else ""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f"<{p}Document xmlns{':' + prefix if prefix else ''}="
        '"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">',
        f"<{p}BkToCstmrStmt>",
        f"<{p}GrpHdr><{p}MsgId>M1</{p}MsgId></{p}GrpHdr>",
        f"<{p}Stmt>",
        f"<{p}Id>S1</{p}Id>",
        f"<{p}Acct><{p}Id><{p}IBAN>{IBAN}</{p}IBAN></{p}Id><{p}Ccy>SEK</{p}Ccy></{p}Acct>",
    ]

    def el(name: str, text: str, attrs: str = "") -> str:
        return f"<{p}{name}{attrs}>{escape(text)}</{p}{name}>"

    ntry_lines, tx_lines = [], []
    for e in entries:
        sign = "CRDT" if e["credit"] else "DBIT"
        total = (
            sum(tx["amount"] for tx in e["txs"])
            if len(e["txs"]) > 1
            else (e["txs"][0]["amount"] if e["txs"] else 123_45)
        )
        ntry_lines.append(len(lines) + 1)
        lines += [f"<{p}Ntry>", el("Amt", _amount(total), SEK), el("CdtDbtInd", sign)]
        if e["reversal"]:
            lines.append(el("RvslInd", "true"))
        lines += [
            el("Sts", e["status"]),
            f"<{p}BookgDt>{el('Dt', str(DAY0 + dt.timedelta(e['day'])))}</{p}BookgDt>",
        ]
        if e["value_day"] is not None:
            day = (DAY0 + dt.timedelta(e["value_day"])).isoformat()
            lines.append(f"<{p}ValDt>{el('Dt', day)}</{p}ValDt>")
        if e["ref"]:
            lines.append(el("AcctSvcrRef", e["ref"]))
        if e["ntry_ref"]:
            lines.insert(len(lines) - 1 if e["ref"] else len(lines), el("NtryRef", e["ntry_ref"]))
        if e["domain"]:
            lines.append(
                f"<{p}BkTxCd><{p}Domn>{el('Cd', 'PMNT')}<{p}Fmly>{el('Cd', 'RCDT')}"
                f"{el('SubFmlyCd', 'DMCT')}</{p}Fmly></{p}Domn></{p}BkTxCd>"
            )
        if e["charges"]:  # an amount the reader must not take for the entry's
            lines.append(f"<{p}Chrgs>{el('Amt', '9.99', SEK)}{el('CdtDbtInd', 'DBIT')}</{p}Chrgs>")
        lines_of_txs: list[int] = []
        if e["txs"]:
            lines.append(f"<{p}NtryDtls>")
            if len(e["txs"]) > 1 and e["btch"] != "none":
                lines.append(f"<{p}Btch>")
                if e["btch"] in ("count", "both"):
                    lines.append(el("NbOfTxs", str(len(e["txs"]))))
                if e["btch"] in ("total", "both"):
                    lines += [el("TtlAmt", _amount(total), SEK), el("CdtDbtInd", sign)]
                lines.append(f"</{p}Btch>")
            for tx in e["txs"]:
                lines_of_txs.append(len(lines) + 1)
                lines.append(f"<{p}TxDtls>")
                refs = el("AcctSvcrRef", tx["ref"]) if tx["ref"] else ""
                refs += el("EndToEndId", tx["e2e"]) if tx["e2e"] else ""
                if refs:
                    lines.append(f"<{p}Refs>{refs}</{p}Refs>")
                if tx["v04"]:
                    lines += [el("Amt", _amount(tx["amount"]), SEK), el("CdtDbtInd", sign)]
                else:
                    lines.append(
                        f"<{p}AmtDtls><{p}TxAmt>{el('Amt', _amount(tx['amount']), SEK)}"
                        f"</{p}TxAmt></{p}AmtDtls>"
                    )
                if tx["code"]:
                    lines.append(
                        f"<{p}BkTxCd><{p}Prtry>{el('Cd', tx['code'])}</{p}Prtry></{p}BkTxCd>"
                    )
                if tx["charges"]:
                    lines.append(
                        f"<{p}Chrgs><{p}Rcrd>{el('Amt', '1.00', SEK)}</{p}Rcrd></{p}Chrgs>"
                    )
                parties = ""
                for role, tag in (
                    ("debtor", "Dbtr"),
                    ("creditor", "Cdtr"),
                    ("ultimate_debtor", "UltmtDbtr"),
                ):
                    if tx[role]:
                        parties += f"<{p}{tag}>{el('Nm', tx[role])}</{p}{tag}>"
                if tx["debtor_account"]:
                    parties += (
                        f"<{p}DbtrAcct><{p}Id><{p}Othr>{el('Id', tx['debtor_account'])}"
                        f"</{p}Othr></{p}Id></{p}DbtrAcct>"
                    )
                if tx["creditor_account"]:
                    parties += (
                        f"<{p}CdtrAcct><{p}Id>{el('IBAN', tx['creditor_account'])}"
                        f"</{p}Id></{p}CdtrAcct>"
                    )
                if parties:
                    lines.append(f"<{p}RltdPties>{parties}</{p}RltdPties>")
                rmt = "".join(el("Ustrd", u) for u in tx["ustrd"])
                rmt += "".join(
                    f"<{p}Strd><{p}CdtrRefInf>{el('Ref', r)}</{p}CdtrRefInf></{p}Strd>"
                    for r in tx["references"]
                )
                if rmt:
                    lines.append(f"<{p}RmtInf>{rmt}</{p}RmtInf>")
                if tx["info"]:
                    lines.append(el("AddtlTxInf", tx["info"]))
                lines.append(f"</{p}TxDtls>")
            lines.append(f"</{p}NtryDtls>")
        tx_lines.append(lines_of_txs)
        if e["info"]:
            lines.append(el("AddtlNtryInf", e["info"]))
        lines.append(f"</{p}Ntry>")
    lines += [f"</{p}Stmt>", f"</{p}BkToCstmrStmt>", f"</{p}Document>"]
    return "\n".join(lines) + "\n", ntry_lines, tx_lines


def _expected(
    entries: list[Entry], file: str, ntry_lines: list[int], tx_lines: list[list[int]]
) -> list[Row | Notice]:
    """What the reader must give, by the rules in the camt module's docstring."""
    out: list[Row | Notice] = []
    seen: set[str] = set()
    occurrences = OccurrenceKeys("camt")  # the former keys (ledger schema 3)
    idless: Counter[str] = Counter()
    pending: dict[str, int] = {}
    first_pending = 0
    for e, ntry_line, lines_of_txs in zip(entries, ntry_lines, tx_lines, strict=True):
        if e["status"] != "BOOK":
            pending[e["status"]] = pending.get(e["status"], 0) + 1
            first_pending = first_pending or ntry_line
            continue
        sign = 1 if e["credit"] else -1
        date = DAY0 + dt.timedelta(e["day"])
        value_date = None if e["value_day"] is None else DAY0 + dt.timedelta(e["value_day"])
        txs = e["txs"] or [None]
        single = len(txs) == 1
        entry_id = e["ref"] or e["ntry_ref"]
        for n, tx in enumerate(txs, start=1):
            tx = tx or {
                "amount": 123_45,
                "ref": "",
                "e2e": "",
                "debtor": "",
                "creditor": "",
                "ultimate_debtor": "",
                "debtor_account": "",
                "creditor_account": "",
                "ustrd": [],
                "references": [],
                "info": "",
                "code": "",
            }
            value = sign * tx["amount"]
            parts: list[str] = []
            for part in (*tx["ustrd"], tx["info"], e["info"]):
                if part and part not in parts:
                    parts.append(part)
            text = " ".join(parts)
            if len(tx["references"]) > 1:
                text = " ".join(filter(None, (text, "Ref " + " ".join(tx["references"][1:]))))
            if (value >= 0) != e["reversal"]:
                party = tx["debtor"] or tx["ultimate_debtor"]
                party_account = tx["debtor_account"]
            else:
                party, party_account = tx["creditor"], tx["creditor_account"]
            e2e = "" if tx["e2e"].upper() == "NOTPROVIDED" else tx["e2e"]
            reference = tx["references"][0] if tx["references"] else ""
            ref, key = tx["ref"], None
            unique = sum(1 for t in txs if t and t["ref"] == ref) == 1
            candidates = []
            if ref and unique and (single or ref != e["ref"]):
                candidates.append(f"{date}:{ref}")
            if e["ref"]:
                candidates.append(f"{date}:{e['ref']}" if single else f"{date}:{e['ref']}/{n}")
            for candidate in candidates:
                full = bank.keyed(IBAN, candidate)
                if full not in seen:
                    seen.add(full)
                    key = full
                    break
            former: tuple[str, ...] = ()
            if key is None:
                # bank.IdlessKeys by its definition: date, öre, the text normalised.
                folded = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
                base = hashlib.blake2b(
                    f"{date}\x1f{value}\x1f{folded}".encode(), digest_size=12
                ).hexdigest()
                idless[base] += 1
                key = f"{bank.keyed(IBAN, '')}{base}#{idless[base]}"
                former = (
                    occurrences.key(
                        IBAN, date, value, "SEK", text, reference, party, party_account, e2e
                    ),
                )
            entry_id = entry_id or key
            code = tx["code"] or ("PMNT/RCDT/DMCT" if e["domain"] else "")
            out.append(
                Row(
                    source="bank",
                    key=key,
                    date=date,
                    amounts={"amount": value},
                    fields={
                        "format": "camt.053",
                        "account": IBAN,
                        "currency": "SEK",
                        "value_date": value_date,
                        "text": " ".join(text.split()) or None,
                        "reference": reference or None,
                        "counterparty": " ".join(party.split()) or None,
                        "counterparty_account": party_account or None,
                        "bank_reference": ref or e["ref"] or None,
                        "end_to_end_id": e2e or None,
                        "transaction_code": code or None,
                        "entry": entry_id or None,
                        "reversal": "true" if e["reversal"] else None,
                    },
                    origin=Origin(file, ntry_line if single else lines_of_txs[n - 1]),
                    former=former,
                )
            )
    if pending:
        n = sum(pending.values())
        kinds = ", ".join(f"{status} {count}" for status, count in sorted(pending.items()))
        out.append(
            Notice(
                f"{n} {'entry' if n == 1 else 'entries'} not booked by the bank left "
                f"out ({kinds}); only booked (BOOK) entries are read",
                file=file,
                line=first_pending,
            )
        )
    return out


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(_entry, min_size=1, max_size=8), prefix=st.sampled_from(["", "ns2"]))
def test_generated_statements_give_the_rows_the_model_expects(
    entries: list[Entry], prefix: str
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gen.xml"
        xml, ntry_lines, tx_lines = _write(entries, prefix)
        path.write_text(xml, encoding="utf-8")
        if not any(e["status"] == "BOOK" for e in entries):  # nothing booked: says so
            read = list(SOURCE.read(path, TZ))
            assert not [r for r in read if isinstance(r, Row)]
            assert any(
                str(n).startswith(f"{path}: no transactions in this file: its ") for n in read
            )
            return
        got = list(SOURCE.read(path, TZ))
        want = _expected(entries, str(path), ntry_lines, tx_lines)
        assert [repr(r) for r in got] == [repr(r) for r in want]
        rows = [r for r in got if isinstance(r, Row)]
        assert len({r.key for r in rows}) == len(rows)  # no key repeats within the file


def test_a_batch_that_does_not_add_up_is_still_refused(tmp_path: Path) -> None:
    entry = {
        "status": "BOOK",
        "credit": True,
        "reversal": False,
        "day": 0,
        "value_day": None,
        "ref": "R1",
        "ntry_ref": "",
        "info": "",
        "domain": False,
        "charges": False,
        "btch": "total",
        "txs": [],
    }
    tx = {
        "amount": 100,
        "v04": True,
        "ref": "",
        "e2e": "",
        "debtor": "",
        "creditor": "",
        "ultimate_debtor": "",
        "debtor_account": "",
        "creditor_account": "",
        "ustrd": [],
        "references": [],
        "info": "",
        "code": "",
        "charges": False,
    }
    entry["txs"] = [tx, dict(tx, amount=200)]
    xml, ntry_lines, _ = _write([entry], "")
    path = tmp_path / "bad.xml"
    path.write_text(xml.replace('<TtlAmt Ccy="SEK">3.00', '<TtlAmt Ccy="SEK">3.01'))
    with pytest.raises(InputError) as info:
        list(SOURCE.read(path, TZ))
    assert str(info.value).startswith(
        f"{path}:{ntry_lines[0]}: column 'Ntry/NtryDtls/Btch/TtlAmt': the batch entry 'R1' does "
        f"not add up: its transactions (TxDtls) sum to {format_sek(300)} SEK, the batch total "
        f"(Btch/TtlAmt) is {format_sek(301)} SEK Fix: "
    )


_GROWTH = """
import datetime as dt, os, sys
from pathlib import Path
from bokfor.sources.camt import SOURCE

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

base = peak = rss()
for n, item in enumerate(SOURCE.read(Path(sys.argv[1]), dt.timezone.utc)):
    if n % 64 == 0:
        peak = max(peak, rss())
print(max(peak, rss()) - base)
"""


def _flat(path: Path, n: int) -> None:
    """A statement of `n` booked entries of seven elements each."""
    with open(path, "w", encoding="utf-8") as f:
        f.write(
            '<?xml version="1.0"?>\n<Document xmlns="urn:iso:std:iso:20022:tech:xsd:'
            f'camt.053.001.02"><BkToCstmrStmt><Stmt><Id>S1</Id><Acct><Id><IBAN>{IBAN}'
            "</IBAN></Id></Acct>\n"
        )
        for i in range(n):
            f.write(
                f'<Ntry><Amt Ccy="SEK">{i % 900 + 1}.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>'
                f"<Sts>BOOK</Sts><BookgDt><Dt>2026-01-{i % 28 + 1:02d}</Dt></BookgDt>"
                f"<AcctSvcrRef>R{i}</AcctSvcrRef></Ntry>\n"
            )
        f.write("</Stmt></BkToCstmrStmt></Document>\n")


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc/self/statm")
def test_memory_stays_bounded_as_the_file_grows(tmp_path: Path) -> None:
    """112,000 elements read in a fresh process take at most a few MB more while reading
    than 7,000: what a row leaves behind is the digest of its key (`_State.fresh`), never its
    elements. A reader that kept each entry's elements would hold ~10 MB more."""
    growth = []
    for n in (1_000, 16_000):
        path = tmp_path / f"flat{n}.xml"
        _flat(path, n)
        done = subprocess.run(
            [sys.executable, "-c", _GROWTH, str(path)], capture_output=True, text=True, check=True
        )
        growth.append(int(done.stdout))  # bytes of resident memory added while reading
    assert growth[1] - growth[0] < 4 << 20, growth
