"""A run of a small file imports only what it uses (issue 22: a 100-row file, the whole
process, in 0.25 s; most of that was imports). Each case runs bokfor in a fresh process and
names the modules it must not have loaded: those of formats and features the run does not
use. No timings here: the machine running the tests is shared and noisy (bench/ times it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.gen_peers import write_peers

REPO = Path(__file__).parent.parent

# Polars (the columnar core, ~0.3 s and 25 MiB), Fortnox (bokfor.push, httpx), netsgiro
# (reading Nets OCR), the mt940 library (reading MT940): every run asks each format to
# detect its input, and wires Fortnox in, without importing them.
NEVER = ("polars", "bokfor.push", "httpx", "netsgiro", "mt940")


def _imported(tmp_path: Path, args: list[str], cwd: Path) -> list[str]:
    """The modules of NEVER (and rich) that `bokfor ARGS` imported; it must exit 0."""
    script = (
        "import sys\n"
        "from bokfor.cli import main\n"
        f"sys.argv = ['bokfor', *{args!r}]\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
        f"print('imported:', *sorted(set(sys.modules) & {set(NEVER) | {'rich'}!r}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()[-1].split()[1:]  # after the tables a run prints


def test_a_dry_run_of_the_stripe_sample_imports_no_other_formats_reader(tmp_path: Path) -> None:
    """It prints tables, so rich is loaded; nothing else of NEVER."""
    args = ["convert", "samples/stripe/balance_history.csv", "-m", "mappings/stripe.yaml"]
    args += ["--dry-run", "--ledger", str(tmp_path / "l")]
    assert _imported(tmp_path, args, REPO) == ["rich"]


@pytest.mark.parametrize("quiet", [True, False])
def test_a_100_row_bank_file_imports_only_what_it_uses(tmp_path: Path, quiet: bool) -> None:
    """The bench's `bank_100` case: a --quiet run prints nothing, so not even rich."""
    write_peers(tmp_path / "p.csv", 100, 42)
    shutil.copy(REPO / "bench" / "mappings" / "peers.yaml", tmp_path / "peers.yaml")
    args = ["convert", "p.csv", "-m", "peers.yaml", "-o", "o.si"] + (["--quiet"] if quiet else [])
    assert _imported(tmp_path, args, tmp_path) == ([] if quiet else ["rich"])
    assert (tmp_path / "o.si").read_bytes().startswith(b"#FLAGGA 0")
