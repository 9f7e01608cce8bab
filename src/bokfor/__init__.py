"""bokfor: Stripe, bank and POS files -> balanced Swedish vouchers -> SIE 4 / Fortnox."""

__version__ = "0.1.0"
