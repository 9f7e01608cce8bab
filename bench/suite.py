"""bokfor's benchmark suite: every case as a whole process, against peer baselines measured
in the same run, with issue 22's targets judged met or missed.

    python -m bench [--quick] [--cases bank_peers,stripe_1m] [--repeat 3] [--keep DIR]

Each case generates its input (seeded: the same bytes every time), then runs `bokfor` as a
child process `--repeat` times, or the case's own minimum if larger (`bank_100`: 15, bokfor
and baselines alike: a process of a tenth of a second is mostly the machine's noise), with a
fresh export ledger each time, and takes the best wall time
and the spread (slowest − best); peak memory is the child's max RSS (the largest of the
runs). The baselines run the same way on the same file: the case's columnar floor (a plain
Polars script doing the same job, bench/floors/; for camt.053 the C iterparse floor), Polars'
`read_csv` (all columns String: the read alone), the stdlib floor (csv + Decimal + 3 regexes
+ one written line per row) and, for the peers' bank CSV, beangulp (in the bench's own venv)
and `hledger print` (`bench/peers.rules`) with the same 3 rules. Ratios are bokfor's wall
time over the baseline's: 2.0× means bokfor took twice as long.

A case whose runs add up past `--budget` seconds stops repeating (n < 3 in the table): the
machine has 2 cores, and a run 40× over its target needs no best-of-3 to miss it.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bench.measure import run

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PY = sys.executable

# -- baselines --------------------------------------------------------------------------------

# The stdlib floor: read every row with csv, every amount as an exact Decimal, 3 regexes pick
# an account, one text line per row written. Arguments: file, out, JSON of the layout.
# What every bokfor command imports before it reads an option (typer builds a pydantic
# TypeAdapter per option) or a mapping (pydantic models, PyYAML), takes the ledger's lock
# (filelock) or checks an organisation number (python-stdnum).
LIBRARIES = "import typer, typer._adapters, pydantic, yaml, filelock, stdnum.se.orgnr"

CSV_FLOOR = r"""
import csv, json, re, sys
from decimal import Decimal
spec = json.loads(sys.argv[3])
rx = [re.compile(p) for p in spec["rules"]]
amounts, text, date, comma = spec["amounts"], spec["text"], spec["date"], spec["comma"]
with open(sys.argv[1], newline="", encoding=spec["encoding"]) as src, \
        open(sys.argv[2], "w") as out:
    reader = csv.reader(src, delimiter=spec["delimiter"])
    for _ in range(spec["skip"]):
        next(reader)
    for row in reader:
        if not row or not row[0]:
            break  # blank row: the end of the table (the Zettle footer follows)
        money = [Decimal(row[i].replace(",", ".") if comma else row[i]) for i in amounts]
        account = next((i for i, r in enumerate(rx) if r.search(row[text])), 9)
        out.write(f"{row[date][:10]} {account} {' '.join(map(str, money))} {row[text]}\n")
"""
XML_FLOOR = r"""
import sys
from decimal import Decimal
from xml.etree.ElementTree import iterparse
total = Decimal(0)
for _, el in iterparse(sys.argv[1]):
    if el.tag.endswith("}Ntry"):
        total += Decimal(el.find("{*}Amt").text)
        el.clear()
print(total)
"""
POLARS_READ = r"""
import json, sys, polars
spec = json.loads(sys.argv[2])
polars.read_csv(sys.argv[1], separator=spec["delimiter"], infer_schema=False,
                skip_rows=spec["skip"] - 1, truncate_ragged_lines=True)
"""
# The bench's own venv for beangulp (never a dependency of bokfor), made on demand.
PEERS_VENV = HERE / ".peers-venv"
BEANGULP = "beangulp==0.2.0"


@dataclass(frozen=True)
class Layout:
    """How the stdlib floor and the Polars read baseline read one kind of CSV."""

    delimiter: str
    encoding: str
    skip: int  # lines up to and including the header
    date: int
    text: int
    amounts: tuple[int, ...]
    comma: bool  # decimal comma
    rules: tuple[str, str, str]

    def json(self) -> str:
        return json.dumps(
            {**self.__dict__, "amounts": list(self.amounts), "rules": list(self.rules)}
        )


PEERS_LAYOUT = Layout(
    ";", "utf-8", 1, 0, 1, (2,), True, ("(?i)stripe", "(?i)zettle", "(?i)skatteverket")
)
SEB_LAYOUT = Layout(
    ";", "utf-8-sig", 1, 0, 3, (4, 5), False, ("(?i)stripe", "(?i)zettle", "(?i)avgift")
)
STRIPE_LAYOUT = Layout(",", "utf-8", 1, 9, 1, (3, 4), False, ("^charge$", "^refund$", "^payout$"))
ZETTLE_LAYOUT = Layout(
    ";", "utf-8", 9, 0, 9, (3, 4, 5, 6), True, ("(?i)kontaktl|chip", "(?i)swish", "(?i)kontant")
)


# -- cases ------------------------------------------------------------------------------------


@dataclass
class Case:
    name: str
    title: str
    rows: int
    quick_rows: int
    make: Callable[[Path, int], None]  # write the input file
    suffix: str
    mapping: Callable[[Path], Path]
    layout: Layout | None = None  # CSV: the Polars read and the stdlib floor
    floor: str | None = None  # bench.floors module: the columnar floor of the same job
    floor_args: tuple[str, ...] = ()
    xml: bool = False  # camt.053: the C iterparse floor
    hledger_rules: Path | None = None
    beangulp: bool = False  # bench/beangulp_peers.py on the same file
    plan_of: str | None = None  # a plan of the fully exported file of that case
    ok: tuple[int, ...] = (0,)
    default: bool = True  # in the default set (`stripe_2g` runs only when named)
    once: bool = False  # one run whatever --repeat says, and a failure is reported, not fatal
    # At least this many runs of bokfor and of each baseline: a process of a fraction of a
    # second is mostly start-up, and its best of 3 mostly the machine's noise.
    runs: int = 0
    # The start-up floor: importing the libraries bokfor's CLI cannot start without (typer,
    # which coerces every option through pydantic; PyYAML; filelock; python-stdnum).
    libraries: bool = False


def _gen_stripe(path: Path, rows: int) -> None:
    from bench.gen_stripe import generate

    generate(rows, path, 1)


def _gen_seb(path: Path, rows: int) -> None:
    from bench.gen_seb import write_seb

    write_seb(path, rows, 1)


def _gen_camt(path: Path, rows: int) -> None:
    from bench.gen_camt import write_camt053

    write_camt053(path, rows, 1)


def _gen_peers(path: Path, rows: int) -> None:
    from bench.gen_peers import write_peers

    write_peers(path, rows, 42)


def _gen_zettle(path: Path, rows: int) -> None:
    from bench.gen_zettle import write_zettle

    write_zettle(path, rows, 1)


def _bank_mapping(work: Path) -> Path:
    """mappings/bank.yaml with unknown rows on a suspense account (bench/convert_bank.py)."""
    path = work / "bank.yaml"
    if not path.exists():
        text = (REPO / "mappings" / "bank.yaml").read_text(encoding="utf-8")
        text = text.replace(
            "  1930: Företagskonto\n", "  1930: Företagskonto\n  2999: Ej utredda bankposter\n", 1
        )
        text += (
            "    fallback:\n      post:\n        - {account: bank_account, debit: amount}\n"
            "        - {account: 2999, credit: amount}\n"
        )
        path.write_text(text, encoding="utf-8")
    return path


def _fixed(path: Path) -> Callable[[Path], Path]:
    return lambda work: path


PEERS_MAPPING = _fixed(HERE / "mappings" / "peers.yaml")
STRIPE_MAPPING = _fixed(REPO / "mappings" / "stripe.yaml")
# ~205 bytes a row of gen_stripe.py: 10.5M rows make a file of about 2 GiB.
STRIPE_2G_ROWS = 10_500_000

CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case(
            "bank_peers",
            "peers' bank CSV → SIE (profile + 3 rules)",
            100_000,
            10_000,
            _gen_peers,
            "csv",
            PEERS_MAPPING,
            PEERS_LAYOUT,
            "bench.floors.peers",
            hledger_rules=HERE / "peers.rules",
            beangulp=True,
        ),
        Case(
            "bank_100",
            "a 100-row peers' bank CSV, the whole process",
            100,
            100,
            _gen_peers,
            "csv",
            PEERS_MAPPING,
            PEERS_LAYOUT,
            "bench.floors.peers",
            beangulp=True,
            runs=15,
            libraries=True,
        ),
        Case(
            "seb",
            "SEB CSV → SIE (mappings/bank.yaml)",
            100_000,
            10_000,
            _gen_seb,
            "csv",
            _bank_mapping,
            SEB_LAYOUT,
            "bench.floors.seb",
        ),
        Case(
            "stripe_100k",
            "Stripe balance export → SIE",
            100_000,
            1_000,
            _gen_stripe,
            "csv",
            STRIPE_MAPPING,
            STRIPE_LAYOUT,
            "bench.floors.stripe",
        ),
        Case(
            "stripe_1m",
            "Stripe balance export → SIE",
            1_000_000,
            10_000,
            _gen_stripe,
            "csv",
            STRIPE_MAPPING,
            STRIPE_LAYOUT,
            "bench.floors.stripe",
        ),
        Case(
            "stripe_1m_plan",
            "bokfor plan, every row already exported",
            1_000_000,
            10_000,
            _gen_stripe,
            "csv",
            STRIPE_MAPPING,
            STRIPE_LAYOUT,
            "bench.floors.stripe",
            ("--parse-only",),
            plan_of="stripe_1m",
            ok=(3,),
        ),  # exit 3: nothing new
        Case(
            "camt_10k",
            "camt.053 → SIE (entries)",
            10_000,
            1_000,
            _gen_camt,
            "xml",
            _bank_mapping,
            xml=True,
        ),
        Case(
            "camt_100k",
            "camt.053 → SIE (entries)",
            100_000,
            10_000,
            _gen_camt,
            "xml",
            _bank_mapping,
            xml=True,
        ),
        Case(
            "zettle_year",
            "Zettle receipts, 365 days → SIE (mappings/pos.yaml)",
            36_500,
            10_000,
            _gen_zettle,
            "csv",
            _fixed(REPO / "mappings" / "pos.yaml"),
            ZETTLE_LAYOUT,
            "bench.floors.zettle",
        ),
        Case(
            "stripe_2g",
            "a 2 GiB Stripe balance export → SIE (peak memory)",
            STRIPE_2G_ROWS,
            100_000,
            _gen_stripe,
            "csv",
            STRIPE_MAPPING,
            default=False,
            once=True,
        ),
    )
}


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    rows: int
    walls: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)
    note: str = ""

    @property
    def best(self) -> float:
        return min(self.walls)

    @property
    def spread(self) -> float:
        return max(self.walls) - min(self.walls)

    @property
    def peak(self) -> int:
        return max(self.peaks)


def failure(said: str) -> str:
    """A child's last line of error as a table note: bokfor's message without its hint."""
    said = said.removeprefix("failed: ").split(" Fix: ")[0]
    return "failed: " + (said if len(said) <= 160 else said[:157] + "...")


def repeat(
    label: str,
    rows: int,
    cmd: list[str],
    times: int,
    budget: float,
    before: Callable[[], None] = lambda: None,
    ok: tuple[int, ...] = (0,),
    stdout: str | None = None,
    tolerate: bool = False,
) -> Result:
    """Run `cmd` up to `times` times (calling `before` first each time), stopping early when
    another run would take the case past `budget` seconds. `tolerate`: a failed run ends the
    result with its message as the note instead of ending the suite."""
    result = Result(label, rows)
    for _ in range(times):
        before()
        try:
            wall, peak = run(cmd, ok=ok, stdout=stdout)
        except SystemExit as failed:
            if not tolerate:
                raise
            lines = str(failed.code).strip().splitlines()
            result.note = failure(lines[-1] if lines else "?")
            print(f"  {label:44} {result.note}", file=sys.stderr, flush=True)
            return result
        result.walls.append(wall)
        result.peaks.append(peak)
        if sum(result.walls) + wall > budget:
            break
    if len(result.walls) < times:
        result.note = f"budget {budget:.0f} s"
    print(
        f"  {label:44} best {result.best:8.2f} s  n={len(result.walls)}  peak {result.peak} MiB",
        file=sys.stderr,
        flush=True,
    )
    return result


class Suite:
    def __init__(self, work: Path, quick: bool, times: int, budget: float) -> None:
        self.work = work
        self.quick = quick
        self.times = times
        self.case_times = times  # --repeat, or more for the case being run (Case.runs)
        self.budget = budget
        self.hledger = shutil.which("hledger")
        self.inputs: dict[tuple[str, int], Path] = {}
        self.baselines: dict[tuple[str, Path], Result] = {}
        self.ledgers: dict[str, Path] = {}  # case -> its ledger after the last convert
        self.results: dict[str, tuple[Case, Result, list[Result]]] = {}
        self.loads: dict[str, float] = {}  # case -> 1-minute load average when it started
        self._beangulp: tuple[str | None, str] | None = None

    def rows(self, case: Case) -> int:
        return case.quick_rows if self.quick else case.rows

    def input(self, case: Case) -> Path:
        rows = self.rows(case)
        key = (case.make.__name__, rows)
        if key not in self.inputs:
            path = self.work / f"{case.make.__name__.removeprefix('_gen_')}_{rows}.{case.suffix}"
            if not path.exists():  # seeded: a kept file from an earlier run is the same file
                start = time.perf_counter()
                tmp = path.with_suffix(".part")
                case.make(tmp, rows)  # every generator streams to disk
                tmp.rename(path)
                print(
                    f"generated {path.name} ({path.stat().st_size / 2**20:.1f} MiB) in "
                    f"{time.perf_counter() - start:.1f} s",
                    file=sys.stderr,
                    flush=True,
                )
            self.inputs[key] = path
        return self.inputs[key]

    def baseline(
        self, name: str, data: Path, rows: int, cmd: list[str], stdout: str | None = None
    ) -> Result:
        key = (name, data)
        if key not in self.baselines:
            self.baselines[key] = repeat(
                name, rows, cmd, self.case_times, self.budget, stdout=stdout
            )
        return self.baselines[key]

    def floor(self, case: Case, data: Path, rows: int) -> Result:
        """The case's columnar floor: once untimed with --check (its totals against Decimal's,
        its voucher count), then timed without."""
        what = "read + parse" if "--parse-only" in case.floor_args else "the whole job"
        out = self.work / f"{case.name}.floor.si"
        cmd = [PY, "-m", case.floor, str(data), str(out), *case.floor_args]
        said = subprocess.run([*cmd, "--check"], capture_output=True, text=True, cwd=REPO)
        if said.returncode:
            sys.exit(f"{case.name}: the columnar floor failed its check:\n{said.stderr[-2000:]}")
        count = said.stdout.strip().splitlines()[-1]
        label = f"columnar floor, Polars: {what} ({count})"
        key = (label, data)
        if key not in self.baselines:
            self.baselines[key] = repeat(
                label, rows, cmd, self.case_times, self.budget, stdout=str(self.work / "floor.out")
            )
        return self.baselines[key]

    def beangulp_python(self) -> tuple[str | None, str]:
        """The python of bench/.peers-venv with beangulp, made on first use; or None and why."""
        if self._beangulp is None:
            py = PEERS_VENV / "bin" / "python"
            have = (
                py.exists()
                and subprocess.run(
                    [str(py), "-c", "import beangulp"], capture_output=True
                ).returncode
                == 0
            )
            if not have:
                print(
                    f"  making {PEERS_VENV.relative_to(REPO)} with {BEANGULP} (pip)",
                    file=sys.stderr,
                    flush=True,
                )
                for step in (
                    [PY, "-m", "venv", str(PEERS_VENV)],
                    [str(py), "-m", "pip", "install", "-q", BEANGULP],
                ):
                    try:
                        done = subprocess.run(step, capture_output=True, text=True, timeout=900)
                    except (OSError, subprocess.SubprocessError) as e:
                        self._beangulp = (None, f"skipped: {e}")
                        return self._beangulp
                    if done.returncode:
                        why = (done.stderr.strip().splitlines() or ["?"])[-1][:160]
                        self._beangulp = (None, f"skipped: {BEANGULP} not installable: {why}")
                        return self._beangulp
            self._beangulp = (str(py), "")
        return self._beangulp

    def convert_cmd(self, case: Case, data: Path, ledger: Path) -> list[str]:
        return [
            PY,
            "-m",
            "bokfor",
            "convert",
            str(data),
            "--mapping",
            str(case.mapping(self.work)),
            "--out",
            str(self.work / f"{case.name}.si"),
            "--ledger",
            str(ledger),
            "--quiet",
        ]

    def run_case(self, case: Case) -> None:
        rows = self.rows(case)
        data = self.input(case)
        self.loads[case.name] = os.getloadavg()[0]
        print(
            f"{case.name}: {rows} rows (load average {self.loads[case.name]:.2f})",
            file=sys.stderr,
            flush=True,
        )
        self.case_times = max(self.times, case.runs)
        times = 1 if case.once else self.case_times
        if case.plan_of:
            ledger = self.ledgers.get(case.plan_of)
            if ledger is None:  # export every row first (not timed)
                ledger = self.work / f"{case.name}.ledger.sqlite"
                fresh(ledger, self.work / f"{case.name}.si")
                print("  exporting every row first (not timed)", file=sys.stderr, flush=True)
                run(self.convert_cmd(case, data, ledger))
            cmd = [
                PY,
                "-m",
                "bokfor",
                "plan",
                str(data),
                "--mapping",
                str(case.mapping(self.work)),
                "--ledger",
                str(ledger),
            ]
            main = repeat("bokfor plan", rows, cmd, times, self.budget, ok=case.ok)
        else:
            ledger = self.work / f"{case.name}.ledger.sqlite"
            cmd = self.convert_cmd(case, data, ledger)
            main = repeat(
                "bokfor convert",
                rows,
                cmd,
                times,
                self.budget,
                before=lambda: fresh(ledger, self.work / f"{case.name}.si"),
                ok=case.ok,
                tolerate=case.once,
            )
            out = self.work / f"{case.name}.si"
            if main.walls and (not out.exists() or b"#VER" not in out.read_bytes()[:1_000_000]):
                sys.exit(f"{case.name}: bokfor wrote no vouchers to {out}")
            self.ledgers[case.name] = ledger
            if case.once:
                fresh(ledger, out)  # a 2 GiB case's ledger is large: not kept
        base: list[Result] = []
        if case.floor:
            base.append(self.floor(case, data, rows))
        if case.layout is not None:
            spec = case.layout.json()
            base.append(
                self.baseline(
                    "Polars read_csv (all String)",
                    data,
                    rows,
                    [PY, "-c", POLARS_READ, str(data), spec],
                )
            )
            base.append(
                self.baseline(
                    "stdlib floor (csv+Decimal+regex+write)",
                    data,
                    rows,
                    [PY, "-c", CSV_FLOOR, str(data), str(self.work / "floor.txt"), spec],
                )
            )
        if case.xml:
            base.append(
                self.baseline(
                    "C iterparse floor (every Ntry amount)",
                    data,
                    rows,
                    [PY, "-c", XML_FLOOR, str(data)],
                )
            )
        if case.beangulp:
            py, why = self.beangulp_python()
            label = "beangulp extract (csvbase, 3 rules)"
            if py is None:
                base.append(Result(label, rows, note=why))
            else:
                base.append(
                    self.baseline(
                        label,
                        data,
                        rows,
                        [py, str(HERE / "beangulp_peers.py"), "extract", str(data)],
                        stdout=str(self.work / "beangulp.beancount"),
                    )
                )
        if case.hledger_rules is not None:
            label = "hledger print (3 if rules)"
            if self.hledger:
                base.append(
                    self.baseline(
                        label,
                        data,
                        rows,
                        [
                            self.hledger,
                            "-f",
                            f"csv:{data}",
                            "--rules-file",
                            str(case.hledger_rules),
                            "print",
                        ],
                        stdout=str(self.work / "hledger.journal"),
                    )
                )
            else:
                base.append(Result(label, rows, note="skipped: hledger not installed"))
        if case.libraries:
            base.append(
                self.baseline(
                    "libraries' import: typer + its pydantic adapters, PyYAML, filelock, stdnum",
                    data,
                    rows,
                    [PY, "-c", LIBRARIES],
                )
            )
        self.results[case.name] = (case, main, base)


def fresh(ledger: Path, out: Path) -> None:
    """A new ledger, and no SIE file at `out`: bokfor writes --out only where nothing is."""
    for stale in [*ledger.parent.glob(ledger.name + "*"), out]:
        stale.unlink(missing_ok=True)


# -- reporting --------------------------------------------------------------------------------

# Table columns: bokfor's best wall time over the baseline whose label starts so.
RATIOS = (
    ("t/floor", ("columnar floor", "C iterparse")),
    ("t/read", ("Polars read",)),
    ("t/stdlib", ("stdlib",)),
    ("t/beangulp", ("beangulp",)),
    ("t/hledger", ("hledger",)),
)


def _find(base: list[Result], prefixes: tuple[str, ...]) -> Result | None:
    return next((b for b in base if b.label.startswith(prefixes)), None)


def _ratio(main: Result, base: list[Result], prefixes: tuple[str, ...]) -> str:
    b = _find(base, prefixes)
    if b is None or not main.walls:
        return ""
    return f"{main.best / b.best:.2f}×" if b.walls else "skipped"


def _fmt_rows(rows: int) -> str:
    if rows >= 1_000_000 and rows % 100_000 == 0:
        return f"{rows / 1e6:g}M"
    return f"{rows // 1000}k" if rows >= 1000 and rows % 1000 == 0 else str(rows)


def print_table(suite: Suite, out=sys.stdout) -> None:
    width = max([40] + [len(b.label) + 4 for _, _, base in suite.results.values() for b in base])
    cols = [
        ("case", width),
        ("rows", 5),
        ("best s", 7),
        ("spread s", 8),
        ("n", 1),
        ("rows/s", 9),
        ("peak MiB", 8),
    ] + [(name, 10) for name, _ in RATIOS]
    print(
        "| "
        + " | ".join(f"{c:{'' if i == 0 else '>'}{w}}" for i, (c, w) in enumerate(cols))
        + " |",
        file=out,
    )
    print("|" + "|".join("-" * (w + 2) for _, w in cols) + "|", file=out)
    for name, (case, main, base) in suite.results.items():
        head = f"**{name}** bokfor {'plan' if case.plan_of else 'convert'}"
        for label, r, is_main in [(head, main, True)] + [
            (f"  ↳ {b.label}", b, False) for b in base
        ]:
            if not r.walls:
                cells = [r.note] + [""] * (len(cols) - 3)
            else:
                spread = f"{r.spread:.2f}" if len(r.walls) > 1 else "—"
                if r.note:
                    spread += f" ({r.note})"
                cells = [
                    f"{r.best:.2f}",
                    spread,
                    str(len(r.walls)),
                    f"{r.rows / r.best:,.0f}",
                    str(r.peak),
                ] + [_ratio(r, base, p) if is_main else "" for _, p in RATIOS]
            print(
                f"| {label:{width}} | {_fmt_rows(r.rows):>5} | "
                + " | ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, cols[2:], strict=True))
                + " |",
                file=out,
            )


def targets(suite: Suite) -> list[tuple[str, str, str, str]]:
    """(target, measured, limit, verdict) for each target of issue 22, from this run's
    numbers; a ratio is bokfor's wall time (or rows/s) against a baseline of the same run."""
    res = suite.results
    out: list[tuple[str, str, str, str]] = []

    def judge(ok: bool) -> str:
        return "not judged (--quick)" if suite.quick else ("met" if ok else "MISSED")

    def main(case: str) -> Result | None:
        return res[case][1] if case in res and res[case][1].walls else None

    def base(case: str, *prefixes: str) -> Result | None:
        return _find(res[case][2], prefixes) if case in res else None

    def missing(
        what: str, limit: str, case: str, b: Result | None = None, needs_base: bool = True
    ) -> bool:
        """Say so in the table and return True when the figure cannot be judged."""
        if main(case) is None:
            why = res[case][1].note if case in res else f"not run (--cases {case})"
            out.append((what, why, limit, judge(False) if why.startswith("failed") else "—"))
        elif needs_base and b is None:
            out.append((what, "no such baseline in this run", limit, "—"))
        elif b is not None and not b.walls:
            out.append((what, f"{b.label}: {b.note}", limit, "not judged"))
        else:
            return False
        return True

    def slower(what: str, case: str, prefixes: tuple[str, ...], limit: float) -> None:
        """bokfor's time at most `limit` × the baseline's."""
        b = base(case, *prefixes)
        if not missing(what, f"≤ {limit:g}×", case, b):
            m = main(case)
            x = m.best / b.best
            out.append(
                (
                    what,
                    f"{x:.2f}× ({m.best:.2f} s vs {b.best:.2f} s)",
                    f"≤ {limit:g}×",
                    judge(x <= limit),
                )
            )

    def faster(what: str, case: str, prefix: str, limit: float) -> None:
        """bokfor's rows/s at least `limit` × the baseline's."""
        b = base(case, prefix)
        if not missing(what, f"≥ {limit:g}×", case, b):
            m = main(case)
            x = b.best / m.best
            out.append(
                (
                    what,
                    f"{x:.2f}× ({m.rows / m.best:,.0f} vs {b.rows / b.best:,.0f} rows/s)",
                    f"≥ {limit:g}×",
                    judge(x >= limit),
                )
            )

    def at_most(
        what: str,
        case: str,
        value: Callable[[Result], float],
        unit: str,
        limit: float,
        strict: bool = False,
    ) -> None:
        shown = f"{'<' if strict else '≤'} {limit:g} {unit}"
        if not missing(what, shown, case, needs_base=False):
            m = main(case)
            v = value(m)
            got = f"{v:.2f} s" if unit == "s" else f"{v:.0f} {unit} ({m.best:.1f} s)"
            out.append(
                (
                    what,
                    f"{got}, load {suite.loads[case]:.1f} at its start",
                    shown,
                    judge(v < limit if strict else v <= limit),
                )
            )

    faster("100k peers bank CSV → SIE: ≥ 4× beangulp's rows/s", "bank_peers", "beangulp", 4)
    faster("100k peers bank CSV → SIE: ≥ 15× hledger's rows/s", "bank_peers", "hledger", 15)
    slower(
        "100k peers bank CSV → SIE: ≤ 1.5× the columnar floor",
        "bank_peers",
        ("columnar floor",),
        1.5,
    )
    slower("1M Stripe rows → SIE: ≤ 1.5× the columnar floor", "stripe_1m", ("columnar floor",), 1.5)
    at_most(
        "1M Stripe rows → SIE: ≤ 5 s when the machine is quiet",
        "stripe_1m",
        lambda r: r.best,
        "s",
        5,
    )
    at_most("1M Stripe rows → SIE: peak ≤ 400 MiB", "stripe_1m", lambda r: r.peak, "MiB", 400)
    slower(
        "plan of a fully exported 1M-row file: ≤ 1.5× the floor's read + parse",
        "stripe_1m_plan",
        ("columnar floor",),
        1.5,
    )
    slower("camt.053 100k entries: ≤ 2× the C iterparse floor", "camt_100k", ("C iterparse",), 2)
    what = "camt.053: peak at 100k ≤ 1.5× the peak at 10k"
    if main("camt_10k") and main("camt_100k"):
        small, big = main("camt_10k").peak, main("camt_100k").peak
        out.append(
            (what, f"{small} → {big} MiB ({big / small:.2f}×)", "≤ 1.5×", judge(big <= 1.5 * small))
        )
    else:
        out.append((what, "needs camt_10k and camt_100k", "≤ 1.5×", "—"))
    at_most(
        "2 GB Stripe export converts with peak memory under 1 GiB (not in CI)",
        "stripe_2g",
        lambda r: r.peak,
        "MiB",
        1024,
        strict=True,
    )
    at_most("a 100-row file, whole process: ≤ 0.25 s", "bank_100", lambda r: r.best, "s", 0.25)
    slower("a 100-row file, whole process: ≤ 2× beangulp", "bank_100", ("beangulp",), 2)
    return out


def machine() -> str:
    import importlib.metadata as md

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    hl = "not installed"
    if shutil.which("hledger"):
        hl = (
            subprocess.run(["hledger", "--version"], capture_output=True, text=True)
            .stdout.strip()
            .removeprefix("hledger ")
            .split(",")[0]
        )
    return (
        f"{os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform()}, "
        f"Python {platform.python_version()}, Polars {md.version('polars')}, "
        f"hledger {hl}, load average at start {os.getloadavg()[0]:.2f}"
    )


def reprint(path: Path) -> int:
    """The tables of an earlier run, from the numbers its --json file kept."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    suite = Suite(path.parent, saved["quick"], saved["repeat"], 0)
    for name, c in saved["cases"].items():
        base = [
            Result(label, c["rows"], b["walls"], b["peaks"], b["note"])
            for label, b in c["baselines"].items()
        ]
        note = c.get("note", "")
        suite.results[name] = (
            CASES[name],
            Result(
                "bokfor",
                c["rows"],
                c["walls"],
                c["peaks"],
                failure(note) if "failed" in note else note,
            ),
            base,
        )
        suite.loads[name] = c.get("load_average") or 0.0
    print(f"{path}: {saved['machine']}; suite {saved['seconds']:.0f} s\n")
    print_table(suite)
    print("\n| target (issue 22) | measured | limit | verdict |\n|---|---|---|---|")
    for row in targets(suite):
        print("| " + " | ".join(row) + " |")
    return 0


def main(argv: list[str] | None = None) -> int:
    defaults = [name for name, case in CASES.items() if case.default]
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="cases: " + ", ".join(CASES) + " (stripe_2g only when named: a 2 GiB file, one run)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small files: 10k rows a case (the Stripe and camt pairs 1k and 10k, stripe_2g 100k)",
    )
    parser.add_argument(
        "--cases",
        default=",".join(defaults),
        help="comma-separated case names (default: all but stripe_2g)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each case (best is kept)")
    parser.add_argument(
        "--budget",
        type=float,
        default=90.0,
        help="seconds one case may take before it stops repeating",
    )
    parser.add_argument(
        "--keep",
        type=Path,
        default=None,
        help="keep generated files (and reuse them) in this folder",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    parser.add_argument(
        "--tables",
        type=Path,
        default=None,
        metavar="JSON",
        help="print the tables of an earlier run from its --json file; run nothing",
    )
    args = parser.parse_args(argv)
    if args.tables:
        return reprint(args.tables)
    names = [n.strip() for n in args.cases.split(",") if n.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(CASES)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    work = args.keep or Path(tempfile.mkdtemp(prefix="bokfor-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    suite = Suite(work, args.quick, args.repeat, args.budget)
    env = machine()
    print(env, file=sys.stderr)
    if not suite.hledger:
        print(
            "note: hledger is not installed: its baseline is skipped (apt-get install -y hledger)",
            file=sys.stderr,
        )
    # bokfor's bytecode, as an installed package has it (pip compiles what it installs, as it
    # did for beangulp and Polars here; a checkout writes it on its first run unless
    # PYTHONDONTWRITEBYTECODE is set, as in this sandbox): else every run compiles the modules
    # it imports, about 0.2 s of a 100-row run.
    compileall.compile_dir(str(REPO / "src" / "bokfor"), quiet=1)
    started = time.perf_counter()
    try:
        for name in names:
            suite.run_case(CASES[name])
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - started
    print()
    print(
        f"bokfor benchmark{' (--quick)' if args.quick else ''}: {env}; best of "
        f"{args.repeat} (budget {args.budget:.0f} s a case), suite {total:.0f} s"
    )
    print()
    print_table(suite)
    print()
    print(
        "t/X: bokfor's best wall time over baseline X's best, both measured in this run on "
        "the same file (2.00× = bokfor took twice as long); t/floor is the columnar floor "
        "(camt: the C iterparse floor). spread: slowest − best run; n: runs (fewer than "
        "--repeat when the case's budget ran out). Peak: max RSS."
    )
    print()
    print("| target (issue 22) | measured | limit | verdict |")
    print("|---|---|---|---|")
    verdicts = targets(suite)
    for row in verdicts:
        print("| " + " | ".join(row) + " |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": env,
                    "quick": args.quick,
                    "repeat": args.repeat,
                    "seconds": total,
                    "cases": {
                        name: {
                            "rows": main.rows,
                            "walls": main.walls,
                            "peaks": main.peaks,
                            "note": main.note,
                            "load_average": suite.loads.get(name),
                            "baselines": {
                                b.label: {"walls": b.walls, "peaks": b.peaks, "note": b.note}
                                for b in base
                            },
                        }
                        for name, (_, main, base) in suite.results.items()
                    },
                    "targets": [
                        dict(zip(("target", "measured", "limit", "verdict"), t, strict=True))
                        for t in verdicts
                    ],
                },
                indent=2,
                ensure_ascii=False,
            ),
            encoding="utf-8",
        )
    return 0
