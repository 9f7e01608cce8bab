"""An export's columns, declared once (`Column`, `Export`), like a beangulp importer's class
attributes. Kept apart from `csvframe`, which reads them with Polars, so that a reader can
declare its columns without importing Polars: a run of a small file never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from bokfor.sources import TEXT

LOWER = "lower"  # text compared without case (a currency code): lower-cased as str.lower does


@dataclass(frozen=True)
class Column:
    """One column of an export: `header` in the file fills `field` of the row frame."""

    header: str
    field: str
    kind: str = TEXT  # TEXT, LOWER, AMOUNT, DATETIME
    required: bool = False


@dataclass(frozen=True)
class Export:
    """A CSV export's columns, and the header suffix of its free-form columns, whose
    fields are `<prefix><name>` (Stripe's `order_id (metadata)` -> `metadata.order_id`)."""

    columns: tuple[Column, ...]
    free_suffix: str | None = None
    free_prefix: str = ""

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.header for c in self.columns if c.required)
