"""beangulp's peer importer for the peers' bank CSV: beside hledger in `bank_peers`.

    bench/.peers-venv/bin/python bench/beangulp_peers.py extract FILE > out.beancount

A csvbase importer (the columns declared once) with the same 3 rules as
bench/mappings/peers.yaml and bench/peers.rules in `finalize`. Runs only in the bench's own
venv (`bench/.peers-venv`, made on demand by bench/suite.py): beangulp is never a
dependency of bokfor.
"""

import csv
import re

import beangulp
from beancount.core import data
from beangulp.importers import csvbase

RULES = (
    (re.compile("(?i)stripe"), "Assets:Stripe"),
    (re.compile("(?i)zettle"), "Assets:Zettle"),
    (re.compile("(?i)skatteverket"), "Assets:Skattekonto"),
)
FALLBACK = "Expenses:Unknown"


class Semicolon(csv.excel):
    delimiter = ";"


class PeersBank(csvbase.Importer):
    date = csvbase.Date("date", "%Y-%m-%d")
    narration = csvbase.Column("text")
    amount = csvbase.Amount("amount", subs={",": "."})
    dialect = Semicolon

    def identify(self, filepath):
        return filepath.endswith(".csv")

    def finalize(self, txn, row):
        other = next((account for rx, account in RULES if rx.search(row.narration)), FALLBACK)
        units = txn.postings[0].units
        txn.postings.append(data.Posting(other, -units, None, None, None, None))
        return txn


if __name__ == "__main__":
    beangulp.Ingest([PeersBank("Assets:Bank", "SEK")])()
