"""bokfor: Stripe, bank and POS files -> balanced Swedish vouchers -> SIE 4 / Fortnox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("bokfor")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"
