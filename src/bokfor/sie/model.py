"""What a SIE 4 file holds, independent of how it is spelled on disk."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Sequence

from bokfor.domain import Company, FiscalYear, Voucher


@dataclass(frozen=True, slots=True)
class Balance:
    """#IB / #UB / #RES: a balance of one account in one year (4E files)."""

    kind: str  # "IB", "UB" or "RES"
    year_index: int
    account: str
    amount: int


@dataclass
class SieDocument:
    """A SIE 4 file. `sie_type` is "4I" (import, no balances) or "4E" (export, with balances);
    both are written as `#SIETYP 4`."""

    company: Company
    sie_type: str = "4I"
    program: tuple[str, str] = ("bokfor", "0.0.0")
    generated: dt.date | None = None
    flag: int = 0
    fiscal_years: list[FiscalYear] = field(default_factory=list)
    kptyp: str | None = None
    accounts: dict[str, str] = field(default_factory=dict)  # number -> name
    dimensions: dict[int, str] = field(default_factory=dict)  # dim number -> name
    objects: dict[tuple[int, str], str] = field(default_factory=dict)  # (dim, id) -> name
    vouchers: Sequence[Voucher] = field(default_factory=list)  # or VoucherColumns
    balances: list[Balance] = field(default_factory=list)
