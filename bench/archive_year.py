"""The size of a räkenskapsår's archive (issue 23): the bench's Zettle year (36,500 receipts,
365 day closes; bench/gen_zettle.py) converted with mappings/pos.yaml, then `bokfor underlag`
and `bokfor archive pack 2026`, each timed in its own process.

    python bench/archive_year.py [--rows 36500]

Prints the input's, the SIE file's, the underlag's and the ledger's sizes, the zip's size and
its ratio to the input, and each step's wall time (the same run: a shared machine's seconds
are only comparable to each other).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=36_500)
    args = parser.parse_args()
    from bench.gen_zettle import write_zettle

    with tempfile.TemporaryDirectory(prefix="bokfor-archive-bench-") as tmp:
        work = Path(tmp)
        data = work / "zettle.csv"
        write_zettle(data, args.rows, 1)
        mapping = work / "pos.yaml"
        shutil.copy(REPO / "mappings" / "pos.yaml", mapping)
        steps = [
            (
                "convert",
                ["convert", str(data), "-m", str(mapping), "-o", str(work / "pos.si"), "-q"],
            ),
            ("underlag", ["underlag", "-m", str(mapping), "-o", str(work / "underlag.html")]),
            ("archive", ["archive", "pack", "2026", "-m", str(mapping), "-o", str(work / "a.zip")]),
        ]
        seconds = {}
        for name, argv in steps:
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "bokfor", *argv], check=True, capture_output=True)
            seconds[name] = time.perf_counter() - start
        zipped = work / "a.zip"
        with zipfile.ZipFile(zipped) as zf:
            members = {i.filename: (i.file_size, i.compress_size) for i in zf.infolist()}
        size = zipped.stat().st_size
        mib = 2**20
        print(f"Zettle year: {args.rows:,} receipts, input {data.stat().st_size / mib:.2f} MiB")
        for name, (raw, packed) in sorted(members.items()):
            print(f"  {name:<44} {raw / mib:8.2f} MiB -> {packed / mib:6.2f} MiB")
        print(
            f"archive {size / mib:.2f} MiB ({size:,} bytes), {size / data.stat().st_size:.2f}x "
            f"the input; times: " + ", ".join(f"{name} {s:.1f} s" for name, s in seconds.items())
        )


if __name__ == "__main__":
    main()
