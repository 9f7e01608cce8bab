"""Where bokfor's time goes: cProfile of one benchmark case, top functions by cumulative time.

    python -m bench.profiling bank_peers [--rows 100000] [--top 25] [--keep DIR]
    python -m bench.profiling stripe_1m

Generates the case's input as `python -m bench` does, runs

    python -m cProfile -o DIR/CASE.prof -m bokfor convert FILE --mapping M --out … --ledger …

(a fresh ledger; for a plan case, `bokfor plan` against a ledger that holds every row) and
prints two tables: the top functions by cumulative time (file:function, seconds, share of the
profiled run) and the top by own time. cProfile roughly doubles the run time: the shares are
what to read, not the seconds. The .prof file stays in DIR for snakeviz or pstats.
"""

from __future__ import annotations

import argparse
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import run
from bench.suite import CASES, PY, REPO, Suite, fresh

# Frames that only pass the whole run down (the interpreter, runpy, the CLI framework): left
# out of the cumulative table, as each would read "100 %".
SKIP = (
    "<frozen ",
    "builtins.exec>",
    "<string>",
    "runpy.py",
    "cProfile.py",
    "/profile.py",
    "typer/",
    "click/",
    "bokfor/__main__.py",
)


def where(key: tuple[str, int, str]) -> str:
    file, line, func = key
    if file == "~":
        return func
    path = Path(file)
    try:
        file = str(path.resolve().relative_to(REPO / "src"))
    except ValueError:
        parts = path.parts
        if "site-packages" in parts:
            file = "/".join(parts[parts.index("site-packages") + 1 :])
        elif "lib" in parts:
            file = "/".join(parts[-2:]) if parts[-2] != "python3.11" else parts[-1]
    return f"{file}:{line}:{func}"


def report(prof: Path, top: int, wall: float) -> str:
    stats = pstats.Stats(str(prof))
    rows = [(key, st[0], st[1], st[2], st[3]) for key, st in stats.stats.items()]  # type: ignore[attr-defined]
    total = max(ct for *_, ct in rows)
    lines = [
        f"profiled run: {wall:.1f} s wall, {total:.1f} s inside the profiler",
        "",
        "| # | function (file:line:function) | calls | cumulative s | share | own s |",
        "|---|---|---|---|---|---|",
    ]
    cum = sorted((r for r in rows if not any(s in where(r[0]) for s in SKIP)), key=lambda r: -r[4])
    for i, (key, _cc, nc, tt, ct) in enumerate(cum[:top], 1):
        lines.append(f"| {i} | `{where(key)}` | {nc:,} | {ct:.2f} | {ct / total:.0%} | {tt:.2f} |")
    lines += [
        "",
        "| # | by own time (file:line:function) | calls | own s | share |",
        "|---|---|---|---|---|",
    ]
    for i, (key, _cc, nc, tt, _ct) in enumerate(sorted(rows, key=lambda r: -r[3])[:top], 1):
        lines.append(f"| {i} | `{where(key)}` | {nc:,} | {tt:.2f} | {tt / total:.0%} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.profiling", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("case", choices=list(CASES))
    parser.add_argument("--rows", type=int, default=None, help="default: the case's full size")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="folder for the input, the ledger and the .prof file",
    )
    args = parser.parse_args(argv)
    case = CASES[args.case]
    if args.rows:
        case.rows = args.rows
    work = args.keep or Path(tempfile.mkdtemp(prefix="bokfor-profile-"))
    work.mkdir(parents=True, exist_ok=True)
    suite = Suite(work, quick=False, times=1, budget=0)
    data = suite.input(case)
    ledger = work / f"{case.name}.profile.ledger.sqlite"
    fresh(ledger, work / f"{case.name}.si")
    mapping = str(case.mapping(work))
    if case.plan_of:
        run(suite.convert_cmd(case, data, ledger))  # every row exported first
        tail = ["plan", str(data), "--mapping", mapping, "--ledger", str(ledger)]
    else:
        tail = [
            "convert",
            str(data),
            "--mapping",
            mapping,
            "--out",
            str(work / f"{case.name}.profile.si"),
            "--ledger",
            str(ledger),
            "--quiet",
        ]
    prof = work / f"{case.name}.prof"
    cmd = [PY, "-m", "cProfile", "-o", str(prof), "-m", "bokfor", *tail]
    start = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    if done.returncode not in case.ok:
        sys.exit(
            f"failed (exit {done.returncode}): {' '.join(cmd)}\n"
            f"{done.stderr.decode(errors='replace')[-4000:]}"
        )
    print(f"{case.name}: {case.rows} rows; {' '.join(cmd)}")
    print(report(prof, args.top, wall))
    print(f"\nprofile: {prof}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
