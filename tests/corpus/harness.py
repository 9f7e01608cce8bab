"""The corpus check: every real file in ../shared/corpus is detected by content, converted
with a mapping written for it and its total checked, or refused with its expected message.

Used by tests/test_corpus.py (one test a file) and bench/corpus.py (the table). The corpus
lives outside the repository (never copied in): everything here works when it is absent.

One case file a corpus file, `tests/corpus/cases/<path with "/" as "__">.yaml`:

    file: bank/WoLpH__mt940__jejik_ing.sta   # relative to ../shared/corpus
    detect: mt940          # the source bokfor detects by content; `none`: none may claim it;
                           # `sie`: a SIE file, run through `bokfor sie check`
    mapping: mt940.yaml    # in tests/corpus/mappings/ (not for `detect: sie`)
    args: [--bank-account, "NL00INGB0000000000"]   # optional extra CLI arguments
    expect: converted      # converted | refused; for sie: checked | refused
    vouchers: 7            # converted / checked: the number of verifikationer written (read)
    total: {account: "1930", recipe: mt940}   # converted: the net of the account over the
                           # SIE written = the file's own total by the recipe, in SEK
    totals:                # or several accounts, each checked so (a settlement report: the
      - {account: "1930", recipe: vipps_csv}            # payouts to the bank, and what
      - {account: "1589", recipe: vipps_csv_clearing}   # stays on the clearing account)
    warnings: ["does not add up"]   # converted: the warnings the run must print, each a
                           # substring of one; a warning no entry matches fails the case, and
                           # so does an entry no warning matches
    currency: EUR          # the file's currency when not SEK: the recipe's total is converted
                           # at the mapping's `currency_rates: {fixed: {EUR: ...}}`
    encoding: latin-1      # sie, optional: the encoding `sie check` must say it read
    message: "bokfor: error: ..."   # refused: the exact first line on stderr; {corpus},
                           # {mappings} and {tmp} stand for those directories
    exit: 2                # refused: the exit code
    why: one sentence on what is special about the file, or why it is refused

Any other key is a parameter for the recipe (the CSV recipe's `column`, `delimiter`...); an
entry of `totals` may hold parameters of its own, which its recipe sees as `case["total"]`.

Recipes compute a file's own total from its raw bytes, never through bokfor's readers: each
`tests/corpus/recipes_<area>.py` exposes `RECIPES: dict[str, Callable[[Path, dict], int |
Fraction | dict]]` (path, case -> the net movement in öre of the file's own currency, a
Fraction when the file has more than two decimals; or a dict currency -> that, for a file
in several currencies, which then needs no `currency:`); they are merged here.

A corpus file without a case file fails ("no expectation written for it"), unless
BOKFOR_CORPUS_PARTIAL=1 (while the cases are being written), which skips it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io
import os
import re
import tempfile
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
MAPPINGS = HERE / "mappings"
PARTIAL = "BOKFOR_CORPUS_PARTIAL"


@dataclass(frozen=True)
class Places:
    """Where the corpus, the case files and the mappings are (tests of the harness itself
    use a corpus of their own)."""

    corpus: Path = CORPUS
    cases: Path = CASES
    mappings: Path = MAPPINGS


HOME = Places()

Recipe = Callable[[Path, dict], "int | Fraction | dict[str, int | Fraction]"]


def available(places: Places = HOME) -> bool:
    return (places.corpus / "MANIFEST.sha256").is_file()


def manifest(places: Places = HOME) -> list[tuple[str, str]]:
    """(path relative to the corpus, sha256) of every corpus file, in the manifest's order."""
    out = []
    for line in (places.corpus / "MANIFEST.sha256").read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.strip().partition("  ")
            out.append((name.lstrip("*"), digest))
    return out


def case_file(name: str, places: Places = HOME) -> Path:
    return places.cases / (name.replace("/", "__") + ".yaml")


def kind(name: str) -> str:
    """bank, stripe, pos or sie: the corpus folder."""
    return name.split("/", 1)[0]


def recipes() -> dict[str, Recipe]:
    """Every `RECIPES` of tests/corpus/recipes_*.py, merged (a name defined twice fails)."""
    merged: dict[str, Recipe] = {}
    for path in sorted(HERE.glob("recipes_*.py")):
        module = importlib.import_module(f"tests.corpus.{path.stem}")
        for name, recipe in module.RECIPES.items():
            if name in merged:
                raise AssertionError(f"recipe {name!r} is defined twice ({path.name})")
            merged[name] = recipe
    return merged


@dataclass
class Outcome:
    """What one corpus file did against its case."""

    name: str
    status: str  # converted, refused, checked (as expected), failing, missing (no case)
    problems: list[str] = field(default_factory=list)
    detail: str = ""  # for the table: vouchers and total, or the message

    @property
    def ok(self) -> bool:
        return not self.problems and self.status != "missing"


def load_case(name: str, places: Places = HOME) -> dict[str, Any] | None:
    """The case of the corpus file `name`, or None when none is written."""
    return load_case_file(case_file(name, places))


def load_case_file(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        case = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise AssertionError(f"{path.name}: not valid YAML: {exc}") from None
    if not isinstance(case, dict):
        raise AssertionError(f"{path.name}: not a YAML mapping")
    return case


def run(name: str, digest: str | None = None, places: Places = HOME) -> Outcome:
    """Check the corpus file `name` against its case."""
    try:
        case = load_case(name, places)
    except AssertionError as exc:
        return Outcome(name, "failing", [str(exc)])
    if case is None:
        return Outcome(
            name,
            "missing",
            [
                "no expectation written for it: add "
                f"tests/corpus/cases/{case_file(name, places).name}"
            ],
        )
    problems = _case_problems(name, case)
    if problems:
        return Outcome(name, "failing", problems)
    path = places.corpus / name
    if digest is not None and hashlib.sha256(path.read_bytes()).hexdigest() != digest:
        return Outcome(name, "failing", ["the corpus file differs from MANIFEST.sha256"])
    if case["detect"] == "sie":
        return _run_sie(name, path, case, places)
    return _run_convert(name, path, case, places)


def _case_problems(name: str, case: dict[str, Any]) -> list[str]:
    problems = []
    if case.get("file") != name:
        problems.append(f"case file says file: {case.get('file')!r}, not {name!r}")
    for key in ("detect", "expect", "why"):
        if not case.get(key):
            problems.append(f"case has no {key!r}")
    sie = case.get("detect") == "sie"
    expect = case.get("expect")
    allowed = ("checked", "refused") if sie else ("converted", "refused")
    if expect not in allowed:
        problems.append(f"expect: {expect!r} is not one of {', '.join(allowed)}")
    if not sie and not case.get("mapping"):
        problems.append("case has no 'mapping'")
    if expect in ("converted", "checked") and not isinstance(case.get("vouchers"), int):
        problems.append("case has no 'vouchers' count")
    if expect == "converted":
        if "total" in case and "totals" in case:
            problems.append("case has both 'total' and 'totals'")
        elif not all(
            isinstance(t, dict) and t.get("account") and t.get("recipe") for t in _totals(case)
        ) or not _totals(case):
            problems.append("case has no 'total: {account, recipe}' (or 'totals: [...]' of them)")
        if not isinstance(case.get("warnings", []), list):
            problems.append("'warnings' is not a list")
    if expect == "refused" and (not case.get("message") or not isinstance(case.get("exit"), int)):
        problems.append("a refused case needs 'message' and 'exit'")
    return problems


def _totals(case: dict[str, Any]) -> list[Any]:
    """The accounts a converted case checks: `totals`, or its one `total`."""
    totals = case.get("totals", [case["total"]] if "total" in case else [])
    return totals if isinstance(totals, list) else [totals]


def _cli(args: list[str]) -> tuple[int, str, str]:
    """bokfor in this process (as tests/test_errors.py runs it): exit code, stdout, stderr."""
    from bokfor.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def _first_line(text: str, tmp: Path, places: Places) -> str:
    line = next((l for l in text.splitlines() if l.strip()), "")
    return (
        line.replace(str(tmp), "{tmp}")
        .replace(str(places.corpus), "{corpus}")
        .replace(str(places.mappings), "{mappings}")
    )


def _crash(err: str) -> str | None:
    if "Traceback" in err or "internal error" in err:
        return "bokfor crashed: " + err.strip().splitlines()[-1][:300]
    return None


def _succeeded(
    case: dict[str, Any], code: int, err: str, tmp: Path, places: Places, outcome: Outcome
) -> bool:
    """A run's exit and first line against the case: True when it succeeded as expected and
    its output is to be checked; a crash, a refusal and an unexpected failure noted."""
    crash = _crash(err)
    if crash:
        outcome.problems.append(crash)
    if case["expect"] == "refused":
        _refused(case, code, err, tmp, places, outcome)
        return False
    if code != 0:
        outcome.problems.append(f"exit {code}: {_first_line(err, tmp, places)}")
        return False
    return True


def _refused(
    case: dict[str, Any], code: int, err: str, tmp: Path, places: Places, outcome: Outcome
) -> None:
    line = _first_line(err, tmp, places)
    outcome.detail = line
    if code != case["exit"]:
        outcome.problems.append(f"exit {code}, expected {case['exit']}: {line}")
    if line != case["message"]:
        outcome.problems.append(
            f"message differs:\n  got:      {line}\n  expected: {case['message']}"
        )


def _run_sie(name: str, path: Path, case: dict[str, Any], places: Places) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="bokfor-corpus-") as tmp_dir:
        tmp = Path(tmp_dir)
        code, out, err = _cli(["sie", "check", str(path)])
        outcome = Outcome(name, case["expect"])
        if _succeeded(case, code, err, tmp, places, outcome):
            found = re.search(r"Verifikationer: (\d+)", out)
            count = int(found.group(1)) if found else None
            if count != case["vouchers"]:
                outcome.problems.append(f"{count} verifikationer, expected {case['vouchers']}")
            header = re.search(r": SIE (\S+), ([^,]+), checksum", out)
            if case.get("encoding") and (not header or header.group(2) != case["encoding"]):
                outcome.problems.append(
                    f"read as {header.group(2) if header else '?'}, expected {case['encoding']}"
                )
            outcome.detail = f"vouchers {count}" + (
                f", read as {header.group(2)}" if header else ""
            )
        if outcome.problems:
            outcome.status = "failing"
        return outcome


def _run_convert(name: str, path: Path, case: dict[str, Any], places: Places) -> Outcome:
    from bokfor.errors import BokforError
    from bokfor.mapping import load_mapping
    from bokfor.sources import detect_source

    outcome = Outcome(name, case["expect"])
    mapping_path = places.mappings / case["mapping"]
    try:
        mapping = load_mapping(mapping_path)
    except BokforError as exc:
        return Outcome(name, "failing", [f"mapping {case['mapping']}: {exc.render()}"])
    try:
        detected = detect_source(path, mapping.formats).name
    except BokforError as exc:
        detected = "none"
        why = exc.render()
    else:
        why = ""
    if detected != case["detect"]:
        outcome.problems.append(
            f"detected as {detected}, expected {case['detect']}" + (f" ({why})" if why else "")
        )
    with tempfile.TemporaryDirectory(prefix="bokfor-corpus-") as tmp_dir:
        tmp = Path(tmp_dir)
        args = [
            "convert",
            str(path),
            "--mapping",
            str(mapping_path),
            "--out",
            str(tmp / "out.si"),
            "--ledger",
            str(tmp / "ledger.db"),
            "--show",
            "0",
            *[str(a) for a in case.get("args") or ()],
        ]
        code, _, err = _cli(args)
        if _succeeded(case, code, err, tmp, places, outcome):
            _check_output(case, mapping, mapping_path, path, tmp, outcome)
            _check_warnings(case, err, tmp, places, outcome)
    if outcome.problems:
        outcome.status = "failing"
    return outcome


def _check_warnings(
    case: dict[str, Any], err: str, tmp: Path, places: Places, outcome: Outcome
) -> None:
    """Every warning the run printed is one the case expects (a substring of it), and every
    expected one was printed: a new warning, or one that went away, is a change to look at."""
    expected = [str(w) for w in case.get("warnings") or ()]
    printed = [
        _first_line(line, tmp, places) for line in err.splitlines() if line.startswith("bokfor: ")
    ]  # a detail line under a warning is indented
    for line in printed:
        if not any(w in line for w in expected):
            outcome.problems.append(f"unexpected warning: {line}")
    for w in expected:
        if not any(w in line for line in printed):
            outcome.problems.append(f"expected warning not printed: {w!r}")


def _check_output(
    case: dict[str, Any], mapping: Any, mapping_path: Path, path: Path, tmp: Path, outcome: Outcome
) -> None:
    """The SIE written is strict-valid (CP437, every voucher balanced, no notice), has the
    expected number of vouchers, and each checked account's net is its recipe's total in
    SEK."""
    from bokfor.errors import BokforError
    from bokfor.sie import reader

    files = sorted(tmp.glob("out*.si"))
    if not files:
        outcome.problems.append("exit 0 but no SIE file written")
        return
    vouchers = 0
    totals = _totals(case)
    nets = {str(t["account"]): 0 for t in totals}
    for file in files:
        try:
            result = reader.read(file)
        except BokforError as exc:
            outcome.problems.append(f"the SIE written is not valid: {exc.render()}")
            return
        if result.encoding != "cp437" or result.notices:
            outcome.problems.append(
                f"the SIE written is not strict: {result.encoding}, "
                + "; ".join(n.message for n in result.notices)
            )
        vouchers += len(result.document.vouchers)
        for v in result.document.vouchers:
            for line in v.lines:
                if line.account in nets:
                    nets[line.account] += line.amount
    if vouchers != case["vouchers"]:
        outcome.problems.append(f"{vouchers} verifikationer, expected {case['vouchers']}")
    outcome.detail = f"vouchers {vouchers}, " + ", ".join(
        f"net of {account} {_sek(net)} SEK" for account, net in nets.items()
    )
    fixed = _fixed_rates(mapping_path)
    for total in totals:
        account, recipe_name = str(total["account"]), total["recipe"]
        recipe = recipes().get(recipe_name)
        if recipe is None:
            outcome.problems.append(f"no recipe {recipe_name!r} in tests/corpus/recipes_*.py")
            continue
        own = recipe(path, {**case, "total": total})
        if not isinstance(own, dict):
            own = {str(case.get("currency") or mapping.company.currency).upper(): own}
        want = Fraction(0)
        for currency, amount in own.items():
            if currency.upper() == mapping.company.currency:
                want += Fraction(amount)
            elif currency.upper() in fixed:
                want += Fraction(amount) * Fraction(Decimal(fixed[currency.upper()]))
            else:
                outcome.problems.append(f"the mapping has no fixed rate for {currency}")
                break
        else:
            if want != nets[account]:
                outcome.problems.append(
                    f"net of {account} is {_sek(nets[account])} SEK, the file's own total "
                    f"({recipe_name}) gives {_sek(want)} SEK"
                )


def _fixed_rates(mapping_path: Path) -> dict[str, str]:
    data = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    fixed = ((data or {}).get("currency_rates") or {}).get("fixed") or {}
    return {str(k).upper(): str(v) for k, v in fixed.items()}


def _sek(ore: int | Fraction) -> str:
    if isinstance(ore, Fraction) and ore.denominator != 1:
        return f"{float(ore) / 100:.4f}"
    ore = int(ore)
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def partial() -> bool:
    return os.environ.get(PARTIAL) == "1"
