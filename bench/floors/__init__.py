"""Columnar floors: each case's job done by a plain Polars script (issue 22).

Each script reads its file, parses every amount to Int64 öre exactly (string operations,
never a float), picks the first matching rule per row with one when/then chain, makes the
postings, renders SIE `#VER`/`#TRANS` text and writes it; no ledger, no checks beyond what
keeps the figures honest. `python -m bench.floors.NAME FILE OUT [--check]`: `--check` also
adds the file's amounts up with `Decimal` and asserts the totals are equal (the bench runs it
once, untimed, before timing the script without it). Every script prints its voucher count.
"""
