"""Wall time of `bokfor run` over many small client folders (issue 21): the accountant's
night with `--jobs 1` and `--jobs 2`, then the next night (the same downloads again: nothing
new), and optionally the shell loop it replaces (one `bokfor convert` process a client).

Each client is a folder made by `bokfor init --client` with one small sample in its inbox,
taking turns: bank (camt.053, 12 vouchers), Stripe (balance export, 29) and POS (Z-dagrapport,
3). Every measurement starts from fresh copies of the folders.

    python bench/run_clients.py [--clients 200] [--jobs 1,2] [--repeat 1] [--loop] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "src"))
from measure import run  # noqa: E402

from bokfor.client import init_client  # noqa: E402

BOKFOR = str(Path(sys.executable).with_name("bokfor"))
SAMPLES = [
    ("bank", REPO / "samples" / "bank" / "camt053_seb.xml"),
    ("stripe", REPO / "samples" / "stripe" / "balance_history.csv"),
    ("pos", REPO / "samples" / "pos" / "z-dagrapport_K1_1001.csv"),
]


def make_clients(root: Path, n: int) -> list[Path]:
    """`n` client folders under `root`, each with one sample in its inbox."""
    folders = []
    for i in range(n):
        kind, sample = SAMPLES[i % len(SAMPLES)]
        folder = root / f"client-{i:03d}-{kind}"
        init_client(folder, kind)
        if kind == "bank":  # the starter names no bank account and no rule for these rows
            shutil.copyfile(REPO / "mappings" / "bank.yaml", folder / "mapping.yaml")
        shutil.copyfile(sample, folder / "inbox" / sample.name)
        folders.append(folder)
    return folders


def refill(folders: list[Path]) -> None:
    """The next night: the same downloads in every inbox again."""
    for i, folder in enumerate(folders):
        sample = SAMPLES[i % len(SAMPLES)][1]
        shutil.copyfile(sample, folder / "inbox" / sample.name)


def night(folders: list[Path], jobs: int, summary: Path) -> tuple[float, int, dict]:
    wall, peak = run(
        [BOKFOR, "run", *map(str, folders), "--jobs", str(jobs), "--json"],
        ok=(0,),
        stdout=str(summary),
    )
    return wall, peak, json.loads(summary.read_text(encoding="utf-8"))


def shell_loop(folders: list[Path]) -> float:
    """What `bokfor run` replaces: one `bokfor convert` process a client, one at a time."""
    start = time.perf_counter()
    for folder in folders:
        inputs = sorted(str(p) for p in (folder / "inbox").iterdir())
        code = subprocess.run(
            [
                BOKFOR,
                "convert",
                *inputs,
                "-m",
                str(folder / "mapping.yaml"),
                "-o",
                str(folder / "out" / "loop-{run}.si"),
                "--ledger",
                str(folder / "loop.sqlite"),
                "--quiet",
            ],
            stdout=subprocess.DEVNULL,
        ).returncode
        if code not in (0, 3):
            sys.exit(f"convert failed in {folder}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs")
    parser.add_argument(
        "--loop", action="store_true", help="also time the shell loop of bokfor convert processes"
    )
    parser.add_argument("--keep", type=Path, help="keep the folders here")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bokfor-clients-"))
    template = base / "template"
    if template.exists():
        shutil.rmtree(template)
    make_clients(template, args.clients)
    print(
        f"{args.clients} client folders, {os.cpu_count()} cores; wall time of `bokfor run`, "
        f"best of {args.repeat}"
    )
    print(f"{'case':34} {'wall s':>8} {'ms/client':>10} {'peak MiB':>9} {'vouchers':>9}")
    for jobs in [int(j) for j in args.jobs.split(",")]:
        best: dict[str, tuple[float, int, int]] = {}
        for _ in range(args.repeat):
            work = base / f"jobs-{jobs}"
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(template, work, symlinks=True)
            folders = sorted(p for p in work.iterdir())
            first = night(folders, jobs, base / "summary.json")
            assert first[2]["totals"]["booked"] == args.clients, first[2]["totals"]
            idle = night(folders, jobs, base / "summary.json")
            refill(folders)
            again = night(folders, jobs, base / "summary.json")
            assert again[2]["totals"]["nothing_new"] == args.clients, again[2]["totals"]
            for name, (wall, peak, summary) in (
                ("first night (all new)", first),
                ("idle (inboxes empty)", idle),
                ("same files again (nothing new)", again),
            ):
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, peak, summary["totals"]["vouchers"])
        for name, (wall, peak, vouchers) in best.items():
            print(
                f"{f'--jobs {jobs}: {name}':34} {wall:8.2f} {1000 * wall / args.clients:10.1f} "
                f"{peak:9d} {vouchers:9d}"
            )
    if args.loop:
        work = base / "loop"
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(template, work, symlinks=True)
        wall = shell_loop(sorted(work.iterdir()))
        print(f"{'shell loop of bokfor convert':34} {wall:8.2f} {1000 * wall / args.clients:10.1f}")
    if not args.keep:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
