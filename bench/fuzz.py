"""Fuzz every parser: mutated real inputs and random bytes must give rows or one domain error
(`BokforError`), never another exception, and never hang; `detect` must never raise.

Seeds are the authored samples and test fixtures each source detects; mutations flip, insert
and delete bytes, cut the file, repeat or drop a line and splice two seeds. Mappings are also
given YAML aliases (bombs, recursion, shared values, deep nesting) and regexes that make a
backtracking engine hang. Each input is parsed in a child process (one per parser, reused)
under a time limit and a memory cap: an input that takes longer is a hang, killed and counted.
A crash or hang is saved under --out (with its traceback), so it can become a test.

    python bench/fuzz.py [--inputs 500] [--seed 1] [--only camt,bgmax] [--out DIR] [--limit 5]
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parent.parent
SEED_DIRS = (REPO / "samples", REPO / "tests" / "fixtures", REPO / "tests" / "errors")
TZ = ZoneInfo("Europe/Stockholm")
LIMIT = 5.0  # seconds an input may take: more is a hang
MEMORY = 4 * 2**30  # address space of the parsing child: a memory bomb fails there


@dataclass
class Result:
    inputs: int = 0
    rows: int = 0  # inputs read without error
    errors: int = 0  # inputs refused with a domain error
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)  # inputs killed after the time limit


def parsers() -> dict[str, tuple[Callable[[Path], object], list[bytes]]]:
    """name -> (parse one file, seed contents)."""
    from bokfor.sie.reader import read as read_sie
    from bokfor.sources import all_sources

    files = [
        p
        for d in SEED_DIRS
        for p in sorted(d.rglob("*"))
        if p.is_file() and p.suffix not in (".py", ".pyc") and p.name not in ("args", "expected")
    ]
    out: dict[str, tuple[Callable[[Path], object], list[bytes]]] = {}
    for source in all_sources():
        seeds = [p.read_bytes() for p in files if _detects(source, p)]

        def parse(path: Path, source=source) -> object:
            source.detect(path)  # must not raise either
            return list(source.read(path, TZ))

        out[source.name] = (parse, seeds or [b""])
    out["sie"] = (
        lambda p: read_sie(p),
        [p.read_bytes() for p in files if p.suffix in (".si", ".se")],
    )
    # Mappings: the examples, the benchmark's (a net-bank profile of its own) and every
    # catalogue case's, broken ones included.
    mappings = sorted(
        {
            *(REPO / "mappings").glob("*.yaml"),
            *(REPO / "bench" / "mappings").glob("*.yaml"),
            *(REPO / "tests" / "errors").glob("*/*.yaml"),
        }
    )
    out["mapping"] = (load_and_match, [p.read_bytes() for p in mappings])
    return out


HOSTILE_TEXTS = ("a" * 40 + "!", "ab " * 20 + "!", "1" * 3000 + "y", "x" * 100_000)


def load_and_match(path: Path) -> object:
    """Load a mapping, then put rows of hostile text (every text field) to each section's
    rules: a pattern that backtracks hangs here, not at load."""
    import datetime as dt

    from bokfor.domain import Origin, Row
    from bokfor.mapping import load_mapping
    from bokfor.sources import TEXT, all_sources

    mapping = load_mapping(path)
    schemas = {s.section: s.schema for s in all_sources()}
    for rules in mapping.sources.values():
        schema = schemas[rules.source]
        for text in HOSTILE_TEXTS:
            fields = {name: text for name, kind in schema.fields.items() if kind == TEXT}
            rules.match(
                Row(
                    rules.source,
                    "fuzz",
                    dt.date(2026, 1, 31),
                    dict.fromkeys(schema.amounts, 0),
                    fields,
                    Origin(str(path), 1),
                )
            )
    return mapping


def _detects(source, path: Path) -> bool:
    try:
        return bool(source.detect(path))
    except Exception:  # noqa: BLE001 - a detect that raises is itself a finding
        return False


def mutate(rng: random.Random, seeds: list[bytes], name: str = "") -> bytes:
    if name == "mapping" and rng.random() < 0.3:
        return mutate_mapping(rng, rng.choice(seeds))
    data = bytearray(rng.choice(seeds))
    if rng.random() < 0.05:
        return rng.randbytes(rng.randint(0, 2048))
    for _ in range(rng.randint(1, 3)):
        op = rng.random()
        if not data:
            data += rng.randbytes(rng.randint(1, 64))
        i = rng.randrange(len(data))
        if op < 0.3:
            data[i] = rng.choice(b"0123456789,.;:-+\t\n\r \"'<>&#{}[]\x00\xc3\xa5\xff")
        elif op < 0.45:
            data.insert(i, rng.randrange(256))
        elif op < 0.6:
            del data[i : i + rng.randint(1, 16)]
        elif op < 0.7:
            del data[i:]
        elif op < 0.85:
            lines = bytes(data).split(b"\n")
            j = rng.randrange(len(lines))
            if rng.random() < 0.5:
                lines.insert(j, lines[j])
            else:
                del lines[j]
            data = bytearray(b"\n".join(lines))
        else:
            other = rng.choice(seeds)
            data = data[:i] + other[rng.randrange(len(other) + 1) :]
    return bytes(data)


# Patterns that take a backtracking engine exponential (or polynomial) time, constructs RE2
# refuses, and sizes at its limits.
HOSTILE_PATTERNS = (
    r"(a+)+$",
    r"(a|aa)+$",
    r"^(a|a?)+$",
    r"(\w+\s?)+$",
    r"(.*a){20}",
    r"(x+x+)+y",
    r"^(([a-z])+.)+[A-Z]([a-z])+$",
    r"\d+\d+\d+\d+x",
    r"(?i)stripe(?!.*refund)",
    r"(?<=a)b",
    r"(a)\1",
    r"(?>a+)",
    r"a++",
    r"[^\W\d]+",
    r"a{1001}",
    r"((a{100}){100}){100}",
    r"[\w\s]{1000}Q",
    "(" * 300 + ")" * 300,
    r"(?:\w*)*",
    r"\b(öl|vin)\b",
    "",
)


def mutate_mapping(rng: random.Random, seed: bytes) -> bytes:
    """A mapping given a hostile regex, an alias bomb, a recursive alias, shared values or
    deep nesting."""
    text = seed.decode("utf-8", "replace")
    op = rng.randrange(5)
    if op == 0:  # a pathological pattern, where a regex is or in a rule's conditions
        pattern = "'" + rng.choice(HOSTILE_PATTERNS).replace("'", "''") + "'"
        if "regex:" in text and rng.random() < 0.7:
            head, _, tail = text.partition("regex:")
            rest = tail.split("}", 1)[1] if "}" in tail else ""
            return f"{head}regex: {pattern}}}{rest}".encode()
        field = rng.choice(["description", "text", "type", "reporting_category"])
        return text.replace("when: {", f"when: {{{field}: {{regex: {pattern}}}, ", 1).encode()
    if op == 1:  # a "billion laughs" of random depth and width
        width, depth = rng.randint(2, 12), rng.randint(2, 12)
        lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
        lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, depth)]
        at = rng.choice([0, len(text)])
        return (text[:at] + "\n".join(lines) + "\n" + text[at:]).encode()
    if op == 2:  # an alias inside the node it names
        return (
            text.replace("{", "&r {again: *r, ", 1).encode()
            if rng.random() < 0.5
            else (text + "\nx: &r [*r]\n").encode()
        )
    if op == 3:  # anchors and aliases of real values: shared, chained, unknown
        lines = text.split("\n")
        i = rng.randrange(len(lines))
        lines[i] = lines[i].replace(": ", ": &s ", 1)
        j = rng.randrange(len(lines))
        lines[j] = (
            lines[j].replace(": ", ": *s ", 1)
            if rng.random() < 0.5
            else lines[j].split(": ", 1)[0] + ": *s"
        )
        return "\n".join(lines).encode()
    depth = rng.choice([10, 63, 64, 65, 1000, 100_000])
    return (text + f"\nx: {'[' * depth}{']' * depth}\n").encode()


def fuzz(
    name: str,
    parse: Callable[[Path], object],
    seeds: list[bytes],
    inputs: int,
    rng: random.Random,
    work: Path,
    out: Path | None,
    limit: float = LIMIT,
) -> Result:
    result = Result()
    suffix = {"camt": ".xml", "sie": ".si", "mapping": ".yaml", "pos_sie": ".si"}.get(name, "")
    path = work / f"{name}{suffix or '.txt'}"
    worker = _Worker(parse)
    try:
        for n in range(inputs):
            data = mutate(rng, seeds, name)
            path.write_bytes(data)
            result.inputs += 1
            outcome, detail = worker.run(path, limit)
            if outcome == "rows":
                result.rows += 1
            elif outcome == "error":
                result.errors += 1
            else:
                (result.hangs if outcome == "hang" else result.crashes).append(
                    detail.strip().splitlines()[-1] if detail.strip() else outcome
                )
                if out is not None:
                    out.mkdir(parents=True, exist_ok=True)
                    (out / f"{name}-{n}{suffix or '.txt'}").write_bytes(data)
                    (out / f"{name}-{n}.{outcome}").write_text(detail, encoding="utf-8")
    finally:
        worker.close()
    return result


class _Worker:
    """A forked child that parses one input at a time: an input that takes longer than the
    limit is killed with it (signals cannot stop a regex engine or a parser inside C), and the
    next input gets a new child."""

    def __init__(self, parse: Callable[[Path], object]) -> None:
        self.parse = parse
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")  # the parser, a closure, is inherited
        self.conn, child = context.Pipe()
        self.proc = context.Process(target=_serve, args=(self.parse, child), daemon=True)
        self.proc.start()
        child.close()

    def run(self, path: Path, limit: float) -> tuple[str, str]:
        """("rows" | "error" | "crash" | "hang", the traceback of a crash)."""
        self.conn.send(str(path))
        if not self.conn.poll(limit):
            self._restart()
            return "hang", f"no answer within {limit:g} s"
        try:
            return self.conn.recv()
        except EOFError:  # the child died: a signal, the memory cap
            code = self.proc.exitcode
            self._restart()
            return "crash", f"the parsing process died (exit code {code})"

    def _restart(self) -> None:
        self.close()
        self._start()

    def close(self) -> None:
        self.proc.kill()
        self.proc.join()
        self.conn.close()


def _serve(parse: Callable[[Path], object], conn) -> None:  # type: ignore[no-untyped-def]
    from bokfor.errors import BokforError

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        try:
            parse(Path(path))
            conn.send(("rows", ""))
        except BokforError:
            conn.send(("error", ""))
        except Exception:  # noqa: BLE001 - what the fuzzer is for
            conn.send(("crash", traceback.format_exc()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=500, help="inputs per parser")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated parser names")
    parser.add_argument("--out", type=Path, default=None, help="save crashing inputs here")
    parser.add_argument(
        "--limit",
        type=float,
        default=LIMIT,
        help="seconds an input may take before it counts as a hang",
    )
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")  # openpyxl's style warnings on mutated workbooks
    wanted = {n for n in args.only.split(",") if n}
    total_crashes = total_hangs = 0
    print(
        f"{'parser':18} {'seeds':>5} {'inputs':>7} {'read':>7} {'refused':>8} {'crashes':>8} "
        f"{'hangs':>6} {'s':>6}"
    )
    with tempfile.TemporaryDirectory(prefix="bokfor-fuzz-") as tmp:
        for name, (parse, seeds) in parsers().items():
            if wanted and name not in wanted:
                continue
            start = time.perf_counter()
            result = fuzz(
                name,
                parse,
                seeds,
                args.inputs,
                random.Random(f"{args.seed}:{name}"),
                Path(tmp),
                args.out,
                args.limit,
            )
            total_crashes += len(result.crashes)
            total_hangs += len(result.hangs)
            print(
                f"{name:18} {len(seeds):5d} {result.inputs:7d} {result.rows:7d} "
                f"{result.errors:8d} {len(result.crashes):8d} {len(result.hangs):6d} "
                f"{time.perf_counter() - start:6.1f}"
            )
            for crash in sorted(set(result.crashes + result.hangs))[:5]:
                print(f"    {crash}")
    print(f"crashes: {total_crashes}, hangs: {total_hangs} (limit {args.limit:g} s an input)")
    return 1 if total_crashes or total_hangs else 0


if __name__ == "__main__":
    sys.exit(main())
