"""The corpus table: every real file in ../shared/corpus against its case in
tests/corpus/cases/ (detected, converted with its total checked, or refused as expected).

    .venv/bin/python bench/corpus.py [--only bank/WoLpH] [--problems]

Prints the files per kind (bank, stripe, pos, sie) converted (or, for SIE files, checked),
refused as expected, failing and without a case, then one line a file. Exit 1 when any file
fails or has no case. The same check as tests/test_corpus.py (tests/corpus/harness.py).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.corpus import harness  # noqa: E402

_COLUMNS = ("converted", "refused", "failing", "missing")
_HEADS = {
    "converted": "converted",
    "refused": "refused as expected",
    "failing": "failing",
    "missing": "no case",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="only files whose path contains this")
    parser.add_argument("--problems", action="store_true", help="print each failure's reasons")
    args = parser.parse_args(argv)
    if not harness.available():
        print(f"no corpus at {harness.CORPUS}")
        return 0
    files = [(n, d) for n, d in harness.manifest() if args.only in n]
    start = time.perf_counter()
    outcomes = [harness.run(name, digest) for name, digest in files]
    seconds = time.perf_counter() - start
    counts: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        status = "converted" if outcome.status == "checked" else outcome.status
        counts.setdefault(harness.kind(outcome.name), Counter())[status] += 1
    print(f"Corpus {harness.CORPUS}: {len(outcomes)} files, checked in {seconds:.1f} s\n")
    print("| kind | files | " + " | ".join(_HEADS[c] for c in _COLUMNS) + " |")
    print("|---|--:|" + "--:|" * len(_COLUMNS))
    total: Counter[str] = Counter()
    for kind in sorted(counts):
        total.update(counts[kind])
        print(
            f"| {kind} | {sum(counts[kind].values())} | "
            + " | ".join(str(counts[kind][c]) for c in _COLUMNS)
            + " |"
        )
    print(
        f"| **all** | {sum(total.values())} | " + " | ".join(str(total[c]) for c in _COLUMNS) + " |"
    )
    print("\n| result | file | detail |\n|---|---|---|")
    for outcome in outcomes:
        status = {"checked": "checked (sie)", "refused": "refused as expected"}.get(
            outcome.status, outcome.status
        )
        detail = outcome.detail if outcome.ok else "; ".join(outcome.problems)
        print(f"| {status} | `{outcome.name}` | {detail.replace('|', '/')[:200]} |")
    if args.problems:
        for outcome in outcomes:
            if not outcome.ok:
                print(f"\n{outcome.name}:\n  " + "\n  ".join(outcome.problems))
    return 1 if total["failing"] or total["missing"] else 0


if __name__ == "__main__":
    sys.exit(main())
