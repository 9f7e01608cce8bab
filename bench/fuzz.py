"""Fuzz every parser: mutated real inputs and random bytes must give rows or one domain error
(`BokforError`), never another exception, and `detect` must never raise.

Seeds are the authored samples and test fixtures each source detects; mutations flip, insert
and delete bytes, cut the file, repeat or drop a line and splice two seeds. A crash is saved
under --out with its traceback, so it can become a test.

    python bench/fuzz.py [--inputs 500] [--seed 1] [--only camt,bgmax] [--out DIR]
"""

from __future__ import annotations

import argparse
import random
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


@dataclass
class Result:
    inputs: int = 0
    rows: int = 0  # inputs read without error
    errors: int = 0  # inputs refused with a domain error
    crashes: list[str] = field(default_factory=list)


def parsers() -> dict[str, tuple[Callable[[Path], object], list[bytes]]]:
    """name -> (parse one file, seed contents)."""
    from bokfor.mapping import load_mapping
    from bokfor.sie.reader import read as read_sie
    from bokfor.sources import all_sources

    files = [p for d in SEED_DIRS for p in sorted(d.rglob("*"))
             if p.is_file() and p.suffix not in (".py", ".pyc") and p.name not in ("args",
                                                                                   "expected")]
    out: dict[str, tuple[Callable[[Path], object], list[bytes]]] = {}
    for source in all_sources():
        seeds = [p.read_bytes() for p in files if _detects(source, p)]

        def parse(path: Path, source=source) -> object:
            source.detect(path)  # must not raise either
            return list(source.read(path, TZ))

        out[source.name] = (parse, seeds or [b""])
    out["sie"] = (lambda p: read_sie(p), [p.read_bytes() for p in files
                                          if p.suffix in (".si", ".se")])
    # Mappings: the examples, the benchmark's (a net-bank profile of its own) and every
    # catalogue case's, broken ones included.
    mappings = sorted({*(REPO / "mappings").glob("*.yaml"), *(REPO / "bench" / "mappings").glob(
        "*.yaml"), *(REPO / "tests" / "errors").glob("*/*.yaml")})
    out["mapping"] = (lambda p: load_mapping(p), [p.read_bytes() for p in mappings])
    return out


def _detects(source, path: Path) -> bool:
    try:
        return bool(source.detect(path))
    except Exception:  # noqa: BLE001 - a detect that raises is itself a finding
        return False


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
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
            del data[i: i + rng.randint(1, 16)]
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
            data = data[:i] + other[rng.randrange(len(other) + 1):]
    return bytes(data)


def fuzz(name: str, parse: Callable[[Path], object], seeds: list[bytes], inputs: int,
         rng: random.Random, work: Path, out: Path | None) -> Result:
    from bokfor.errors import BokforError

    result = Result()
    suffix = {"camt": ".xml", "sie": ".si", "mapping": ".yaml", "pos_sie": ".si"}.get(name, "")
    path = work / f"{name}{suffix or '.txt'}"
    for n in range(inputs):
        data = mutate(rng, seeds)
        path.write_bytes(data)
        result.inputs += 1
        try:
            parse(path)
            result.rows += 1
        except BokforError:
            result.errors += 1
        except Exception:  # noqa: BLE001 - what the fuzzer is for
            tb = traceback.format_exc()
            result.crashes.append(tb.strip().splitlines()[-1])
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{name}-{n}{suffix or '.txt'}").write_bytes(data)
                (out / f"{name}-{n}.traceback").write_text(tb, encoding="utf-8")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--inputs", type=int, default=500, help="inputs per parser")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="comma-separated parser names")
    parser.add_argument("--out", type=Path, default=None, help="save crashing inputs here")
    args = parser.parse_args(argv)
    import warnings

    warnings.simplefilter("ignore")  # openpyxl's style warnings on mutated workbooks
    wanted = {n for n in args.only.split(",") if n}
    total_crashes = 0
    print(f"{'parser':18} {'seeds':>5} {'inputs':>7} {'read':>7} {'refused':>8} {'crashes':>8} "
          f"{'s':>6}")
    with tempfile.TemporaryDirectory(prefix="bokfor-fuzz-") as tmp:
        for name, (parse, seeds) in parsers().items():
            if wanted and name not in wanted:
                continue
            start = time.perf_counter()
            result = fuzz(name, parse, seeds, args.inputs, random.Random(f"{args.seed}:{name}"),
                          Path(tmp), args.out)
            total_crashes += len(result.crashes)
            print(f"{name:18} {len(seeds):5d} {result.inputs:7d} {result.rows:7d} "
                  f"{result.errors:8d} {len(result.crashes):8d} "
                  f"{time.perf_counter() - start:6.1f}")
            for crash in sorted(set(result.crashes))[:5]:
                print(f"    {crash}")
    print(f"crashes: {total_crashes}")
    return 1 if total_crashes else 0


if __name__ == "__main__":
    sys.exit(main())
