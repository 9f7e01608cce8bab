"""A run's vouchers split by fiscal year (bokfor.outputs)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bokfor.domain import Voucher
from bokfor.mapping import Mapping
from bokfor.outputs import split_years


class _Broken:
    fiscal_year_start = (7, 1)  # brutet räkenskapsår: 1 July - 30 June


@given(st.lists(st.dates(dt.date(2023, 1, 1), dt.date(2027, 12, 31)), max_size=200))
def test_each_voucher_is_in_the_part_of_its_fiscal_year_in_run_order(days) -> None:
    def year_of(day: dt.date) -> tuple[dt.date, dt.date]:
        return Mapping.fiscal_year_of(_Broken, day)  # only its fiscal_year_start is read

    vouchers = [Voucher("A", day, "text", ()) for day in days]
    parts = split_years(vouchers, year_of)
    assert [p.year.start for p in parts] == sorted({year_of(d)[0] for d in days})
    assert sorted(i for p in parts for i in p.indices) == list(range(len(days)))
    for part in parts:
        assert list(part.indices) == sorted(part.indices)  # the run's order
        assert all(year_of(days[i]) == (part.year.start, part.year.end) for i in part.indices)
