"""Fortnox: voucher bodies and batches, the API client, tokens, rate limit and pre-flight.

Library only: the CLI and the export ledger (pending -> posted) wire it in. See
docs/fortnox.md.
"""

from bokfor.fortnox.batch import (
    BatchResult,
    clean_text,
    key_of,
    to_json,
    voucher_body,
    voucher_key,
    write_batch,
)
from bokfor.fortnox.errors import (
    FortnoxAuthError,
    FortnoxError,
    FortnoxUnavailable,
    UncertainPost,
)

__all__ = [
    "BatchResult",
    "FortnoxAuthError",
    "FortnoxError",
    "FortnoxUnavailable",
    "UncertainPost",
    "clean_text",
    "key_of",
    "to_json",
    "voucher_body",
    "voucher_key",
    "write_batch",
]
