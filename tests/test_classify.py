"""Sorting an input's rows against the ledger (bokfor.classify): by columns (`Sorter.frames`)
exactly as row by row (`Sorter.rows`), and a plan made from row frames exactly as one made
from rows, on real files (the sample, a generated export, a file only the row reader reads).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.gen_stripe import generate
from bokfor import frames
from bokfor.classify import Sorter, content_of, frame_contents
from bokfor.domain import Origin, Row
from bokfor.errors import InputError
from bokfor import ledger as ledger_module
from bokfor.ledger import Ledger
from bokfor.mapping import load_mapping
from bokfor import plan as plan_module
from bokfor.plan import make_plan
from bokfor.sources import csvframe
from bokfor.sources.stripe_balance import SCHEMA, StripeBalanceSource

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
SAMPLE = REPO / "samples" / "stripe" / "balance_history.csv"
MAPPING = REPO / "mappings" / "stripe.yaml"
SOURCE = "stripe_balance"

_TEXT = st.text(alphabet=st.sampled_from("ab=\x1fåÖ 1"), max_size=4)
_FORMER = ["old:1", "old:2", "old:3"]  # keys an older bokfor gave rows


@st.composite
def rows(draw: st.DrawFn, keys: list[str], dates: st.SearchStrategy | None = None) -> list[Row]:
    """Rows of the balance export's schema with distinct keys from `keys`."""
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
    out = []
    for line, key in enumerate(chosen, 2):
        fee, net = draw(st.integers(-(10**15), 10**15)), draw(st.integers(-(10**15), 10**15))
        out.append(
            Row(
                source=SOURCE,
                key=key,
                date=draw(st.dates() if dates is None else dates),
                amounts={"fee": fee, "net": net, "gross": fee + net},
                fields={
                    "type": draw(st.one_of(st.none(), _TEXT)),
                    "currency": draw(st.one_of(st.none(), _TEXT)),
                    "id": key,
                },
                origin=Origin("export.csv", line),
                aliases=tuple(draw(st.lists(st.sampled_from(keys + ["ch:1", "ch:2"]), max_size=2))),
                former=tuple(draw(st.lists(st.sampled_from(_FORMER), max_size=1))),
            )
        )
    return out


@settings(max_examples=100, deadline=None)
@given(rows(keys=[f"k{i}" for i in range(8)]))
def test_frame_contents_is_content_of_every_row(batch: list[Row]) -> None:
    """The content column is the text `content_of` gives each row; or None (the rows then
    go one by one) only for a date before year 1000, which a row's isoformat writes
    otherwise."""
    frame = frames.from_rows(batch, SCHEMA)
    texts = frame_contents(frame, SCHEMA)
    if texts is None:
        assert any(row.date.year < 1000 for row in batch)
        return
    content = content_of(SCHEMA, SCHEMA.amounts)
    assert texts.to_list() == [content(row) for row in batch]


class _Ledger(Ledger):
    """The tables `Sorter` reads, in memory, behind the real queries."""

    def __init__(
        self,
        exported: dict[str, tuple[str, int, str]],
        aliases: dict[str, str],
        renamed: dict[str, str] | None = None,
    ):
        conn = sqlite3.connect(":memory:")
        conn.executescript(
            "CREATE TABLE rows (key TEXT PRIMARY KEY, source TEXT, content TEXT, voucher_id "
            "INTEGER); CREATE TABLE aliases (alias TEXT PRIMARY KEY, key TEXT); "
            "CREATE TABLE renamed (key TEXT PRIMARY KEY, former TEXT); "
            # What `Ledger.expect` estimates by: no run recorded its inputs, no estimate.
            "CREATE TABLE exports (run_id INTEGER, rows INTEGER); "
            "CREATE TABLE inputs (run_id INTEGER, size INTEGER);"
        )
        conn.executemany(
            "INSERT INTO rows VALUES (?, ?, ?, ?)",
            [(k, src, text, vid) for k, (text, vid, src) in exported.items()],
        )
        conn.executemany("INSERT INTO aliases VALUES (?, ?)", list(aliases.items()))
        conn.executemany("INSERT INTO renamed VALUES (?, ?)", list((renamed or {}).items()))
        conn.commit()  # a snapshot begins its own transaction
        super().__init__(Path("ledger.sqlite"), conn)

    def export_of_row(self, key: str) -> None:
        return None


def _before(draw: st.DrawFn, row: Row) -> tuple[str, int, str]:
    """What a ledger may hold for `row`: its content, another, a wider one that says the
    same (an older bokfor's), or any content from another kind of export."""
    now = content_of(SCHEMA, SCHEMA.amounts)(row)
    kind = draw(st.sampled_from(["same", "other", "wider", "elsewhere"]))
    text = {
        "same": now,
        "other": now.replace("date=", "date=x", 1),
        "wider": now + "\x1freference=R1",
        "elsewhere": "date=2020-01-01",
    }[kind]
    return text, draw(st.integers(1, 4)), SOURCE if kind != "elsewhere" else "stripe_payments"


def _sort(sorter: Sorter, make) -> tuple:
    try:
        booked = [(r.key, r.origin.line) for r in make()]
    except InputError as exc:  # the run stops: what was kept no longer matters
        return ("error", exc.message, exc.line)
    return (
        booked,
        sorter.exported,
        sorted(sorter.exported_ids),
        sorter.contents,
        [(r.key, text) for r, text in sorter.changed],
        sorter.learned,
    )


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_sorting_by_columns_is_sorting_row_by_row(data: st.DataObject) -> None:
    """Any rows, any ledger (same, other, wider, another export's content; aliases owned
    by other keys; rows exported under a former key or a learned one), any cut into
    batches: `frames` yields, counts, keeps and learns what `rows` does, or raises the same
    error; also inside a snapshot that answers from the rows read whole, from the first
    batch or a later one (Ledger.known_frame)."""
    keys = [f"stripe:txn_{i}" for i in range(10)]
    batch = data.draw(rows(keys, st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31))))
    exported = {
        row.key: _before(data.draw, row) for row in batch if data.draw(st.booleans(), "exported")
    }
    # Rows an older bokfor exported under a former key, or under a key learned as theirs.
    for row in batch:
        if row.former and data.draw(st.booleans(), "exported formerly"):
            exported[row.former[0]] = _before(data.draw, row)
    renamed = {
        key: data.draw(st.sampled_from(_FORMER))
        for key in keys
        if data.draw(st.integers(0, 3), "renamed") == 0
    }
    owners = {
        alias: data.draw(st.sampled_from(keys))
        for alias in ("ch:1", "ch:2")
        if data.draw(st.booleans(), "owned")
    }
    cuts = sorted(data.draw(st.lists(st.integers(0, len(batch)), max_size=3)))
    frame = frames.from_rows(batch, SCHEMA)
    parts = [frame[a:b] for a, b in zip([0, *cuts], [*cuts, len(batch)], strict=True)]

    def sorter() -> Sorter:
        return Sorter(_Ledger(exported, owners, renamed), SOURCE, SCHEMA, set(), [])

    by_rows, by_frames = sorter(), sorter()
    share = data.draw(st.sampled_from([None, 0, 1, 1 << 40]), "scan share (None: no snapshot)")
    with pytest.MonkeyPatch.context() as m, contextlib.ExitStack() as inside:
        if share is not None:
            m.setattr(ledger_module, "_SCAN_SHARE", share)
            inside.enter_context(by_frames.ledger.snapshot())
        framed = _sort(by_frames, lambda: by_frames.frames(parts))
    assert framed == _sort(by_rows, lambda: by_rows.rows(batch))


def _plan_of(inputs, mapping, ledger, framed: bool, monkeypatch, **options):
    """The plan's entries, summaries, records and skipped rows, made with or without row
    frames (whatever the file's size)."""
    with monkeypatch.context() as m:
        # Row by row: no file is large enough to be read into frames.
        m.setattr(plan_module, "FRAMES_FROM", 0 if framed else 1 << 62)
        plan = make_plan(inputs, load_mapping(mapping), Ledger.open(ledger), **options)
    try:
        return (
            [(e.status, e.voucher, e.detail, e.previous) for e in plan.entries],
            [dataclasses.replace(s, sha256="") for s in plan.inputs],
            [plan.records_of(i) for i in range(len(plan.to_write))],
            list(plan.spool.skipped()),
            plan.to_write,
            sorted(plan.exported_ids),
            plan.errors and [str(e) for e in plan.errors],
        )
    finally:
        plan.close()


def _exported_then_edited(tmp_path: Path, path: Path, capsys) -> tuple[Path, Path]:
    """A ledger that exported `path` up to a day, and the file with two exported rows'
    amounts edited (changed rows)."""
    ledger = tmp_path / "ledger.sqlite"
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    dates = sorted({line.split(",")[9][:10] for line in lines[1:] if line.count(",") > 9})
    cut = dates[len(dates) // 2]
    code, _, err = run_cli(
        [
            "convert",
            str(path),
            "--mapping",
            str(MAPPING),
            "--out",
            str(tmp_path / "first.si"),
            "--ledger",
            str(ledger),
            "--to",
            cut,
        ],
        capsys,
    )
    assert code == 0, err
    edited = tmp_path / "edited.csv"
    old = [line for line in lines[1:] if line.split(",")[9][:10] < cut and ",charge," in line][:2]
    for line in old:
        cells = line.split(",")
        cells[4] = f"{float(cells[4]) + 1:.2f}"  # fee + 1.00, net − 1.00: still Amount − Fee
        cells[7] = f"{float(cells[7]) - 1:.2f}"
        text = text.replace(line, ",".join(cells))
    edited.write_text(text, encoding="utf-8")
    return ledger, edited


@pytest.mark.parametrize("correct", [False, True])
@pytest.mark.parametrize("period", [{}, {"date_from": dt.date(2026, 1, 3)}])
def test_a_plan_by_frames_is_the_plan_by_rows_on_the_sample(
    tmp_path, capsys, monkeypatch, correct, period
) -> None:
    """The sample half exported, two rows edited since: new, exported, changed (and with
    --correct their reversals), outside --from: the same plan, records and skipped rows."""
    ledger, edited = _exported_then_edited(tmp_path, SAMPLE, capsys)
    both = [
        _plan_of([edited], MAPPING, ledger, framed, monkeypatch, correct=correct, **period)
        for framed in (True, False)
    ]
    assert both[0] == both[1]
    summary = both[0][1][0]
    assert summary.exported and summary.changed == 2 and summary.vouchers
    assert summary.outside == (0 if not period else summary.outside) and (
        not period or summary.outside
    )


def test_a_plan_by_frames_is_the_plan_by_rows_on_a_generated_export(
    tmp_path, capsys, monkeypatch
) -> None:
    """3,000 generated rows read in batches of ~16 KiB: the same plan as row by row."""
    path = tmp_path / "balance_history.csv"
    generate(3000, path, seed=7)
    ledger, edited = _exported_then_edited(tmp_path, path, capsys)
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    both = [
        _plan_of([edited], MAPPING, ledger, framed, monkeypatch, correct=True)
        for framed in (True, False)
    ]
    assert both[0] == both[1]
    assert both[0][1][0].rows == 3000


@pytest.mark.parametrize(
    "share, announced",
    [(0, True), (8, False), (1 << 40, True), (ledger_module._SCAN_SHARE, True)],
    ids=["looked-up", "scanned-later", "scanned", "expected"],
)
def test_a_plan_joined_to_the_ledger_read_whole_is_the_plan_by_lookups(
    tmp_path, capsys, monkeypatch, share, announced
) -> None:
    """Half of 3,000 generated rows exported, two edited since, planned in 16 KiB batches
    inside a snapshot: whether the ledger's rows are looked up batch by batch, read whole
    at the first batch or after some batches were looked up (Ledger.known_frame), the plan
    is the plan by rows. Announced (Ledger.expect), an input the size of the file the
    ledger's rows were read from is expected to ask for them all: read whole at once."""
    path = tmp_path / "balance_history.csv"
    generate(3000, path, seed=11)
    ledger, edited = _exported_then_edited(tmp_path, path, capsys)
    monkeypatch.setattr(csvframe, "_BATCH", 16 << 10)
    monkeypatch.setattr(ledger_module, "_SCAN_SHARE", share)
    if not announced:
        monkeypatch.setattr(Ledger, "expect", lambda self, size: None)
    read, asked = [], []
    table = ledger_module._Scan.table

    def spy(self, conn, asking):
        asked.append(asking)
        found = table(self, conn, asking)
        read.append(found is not None)
        return found

    monkeypatch.setattr(ledger_module._Scan, "table", spy)
    opened = Ledger.open(ledger)
    with opened.snapshot(), monkeypatch.context() as m:
        m.setattr(ledger_module.Ledger, "open", staticmethod(lambda path, **_: opened))
        framed = _plan_of([edited], MAPPING, ledger, True, monkeypatch, correct=True)
    assert len(asked) > 10  # batches
    assert any(read) == bool(share) and all(read) == (announced and bool(share))
    if share == 8:
        assert not read[0] and read[-1]  # looked up first, read whole later
    assert framed == _plan_of([edited], MAPPING, ledger, False, monkeypatch, correct=True)
    assert framed[1][0].rows == 3000


def test_a_small_file_against_a_large_ledger_is_looked_up(tmp_path, capsys, monkeypatch) -> None:
    """3,000 rows exported; then a tenth of the file (its first lines) is planned in 4 KiB
    batches: announced (Ledger.expect), it is expected to ask for a tenth of the rows, so
    its keys are looked up and the ledger is never read whole."""
    path = tmp_path / "balance_history.csv"
    generate(3000, path, seed=5)
    ledger = tmp_path / "ledger.sqlite"
    code, _, err = run_cli(
        ["convert", str(path), "-m", str(MAPPING), "-o", str(tmp_path / "a.si"),
         "--ledger", str(ledger)],
        capsys,
    )  # fmt: skip
    assert code == 0, err
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    part = tmp_path / "part.csv"
    part.write_text("".join(lines[:300]), encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 4 << 10)
    coming, read = [], []
    expect, table = Ledger.expect, ledger_module._Scan.table

    def announced(self, size):
        coming.append(size)
        expect(self, size)

    def spy(self, conn, asking):
        found = table(self, conn, asking)
        read.append(found is not None)
        return found

    monkeypatch.setattr(Ledger, "expect", announced)
    monkeypatch.setattr(ledger_module._Scan, "table", spy)
    opened = Ledger.open(ledger)
    with opened.snapshot(), monkeypatch.context() as m:
        m.setattr(ledger_module.Ledger, "open", staticmethod(lambda path, **_: opened))
        entries, inputs, *_ = _plan_of([part], MAPPING, ledger, True, monkeypatch)
    assert coming == [part.stat().st_size] and len(read) > 3 and not any(read)
    assert inputs[0].rows == 299 and inputs[0].vouchers == 0


def test_a_file_only_the_row_reader_reads_starts_the_plan_over(tmp_path, monkeypatch) -> None:
    """A blank line in the file's last batch: found after earlier batches were sorted and
    booked, the plan starts over row by row (NotFramed) and is the plan by rows."""
    path = tmp_path / "balance_history.csv"
    generate(400, path, seed=3)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    path.write_text("".join(lines[:-5]) + "\n" + "".join(lines[-5:]), encoding="utf-8")
    monkeypatch.setattr(csvframe, "_BATCH", 4 << 10)
    read = []
    real = StripeBalanceSource.read_frames

    def spy(self, *args):
        for batch in real(self, *args):
            read.append(batch.height)
            yield batch

    monkeypatch.setattr(StripeBalanceSource, "read_frames", spy)
    ledger = tmp_path / "ledger.sqlite"
    framed = _plan_of([path], MAPPING, ledger, True, monkeypatch)
    assert sum(read) > 100  # batches were read before the blank line stopped them
    assert framed == _plan_of([path], MAPPING, ledger, False, monkeypatch)
    assert framed[1][0].rows == 400


def with_a_twin(path: Path, rows: int, seed: int) -> str:
    """A generated export whose line 10 has line 4's txn id; that id."""
    generate(rows, path, seed=seed)
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    twin = lines[3].split(",", 1)[0]
    lines[9] = twin + "," + lines[9].split(",", 1)[1]
    path.write_text("".join(lines), encoding="utf-8")
    return twin


def test_a_key_twice_is_named_by_the_plan_by_frames(tmp_path, monkeypatch) -> None:
    """The run's names noted from frames are checked as those noted from rows: a txn id in
    two rows is refused naming both lines."""
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)
    path = tmp_path / "balance_history.csv"
    twin = with_a_twin(path, 50, seed=5)
    with pytest.raises(InputError) as info:
        make_plan([path], load_mapping(MAPPING), Ledger.open(tmp_path / "ledger.sqlite"))
    assert twin in info.value.message
    assert "4" in str(info.value) and info.value.line == 10


@pytest.mark.parametrize("scanned", [False, True])
def test_known_frame_is_known(tmp_path, capsys, monkeypatch, scanned) -> None:
    """The ledger's answer as columns is its answer as a dict, each key once: looked up,
    and joined to the rows a snapshot read whole."""
    ledger = tmp_path / "ledger.sqlite"
    code, _, err = run_cli(
        [
            "convert",
            str(SAMPLE),
            "--mapping",
            str(MAPPING),
            "--out",
            str(tmp_path / "o.si"),
            "--ledger",
            str(ledger),
        ],
        capsys,
    )
    assert code == 0, err
    opened = Ledger.open(ledger)
    keys = sorted(r.key for r in StripeBalanceSource().read(SAMPLE, dt.timezone.utc)) + ["nope"]
    keys[1] = keys[0]  # asked twice, given once
    monkeypatch.setattr(ledger_module, "_SCAN_SHARE", 1 << 40 if scanned else 0)
    with opened.snapshot():
        frame = opened.known_frame(pl.Series(keys))
        assert (opened._scan.frame is not None) == scanned  # type: ignore[union-attr]
    assert opened._scan is None
    assert frame.height == len(set(keys)) - 1 == len(keys) - 2  # not "nope", a key once
    assert {k: tuple(v) for k, *v in frame.iter_rows()} == opened.known(keys)
    assert frame.schema == pl.Schema(
        {"key": pl.String, "content": pl.String, "voucher_id": pl.Int64, "source": pl.String}
    )


def test_a_file_that_grows_while_read_by_frames_stops_the_plan(tmp_path, monkeypatch) -> None:
    """A download still being written while its batches are read: refused, as by rows."""
    monkeypatch.setattr(plan_module, "FRAMES_FROM", 0)
    path = tmp_path / "balance_history.csv"
    generate(200, path, seed=9)
    real = StripeBalanceSource.read_frames

    def growing(self, *args):
        yield from real(self, *args)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write("\n")

    monkeypatch.setattr(StripeBalanceSource, "read_frames", growing)
    with pytest.raises(InputError) as info:
        make_plan([path], load_mapping(MAPPING), Ledger.open(tmp_path / "ledger.sqlite"))
    assert info.value.message == "the file changed while bokfor read it"


# Keys and contents as a file may hold them: empty, NUL, a letter composed or decomposed,
# case, blanks, the unit separator, characters beyond the BMP.
_ODD = st.text(alphabet=st.sampled_from(["a", "A", "\x00", "é", "e", "\u0301", " ", "😀", "\x1f"]))


@settings(max_examples=150, deadline=None)
@given(
    held=st.dictionaries(
        _ODD | st.builds(lambda n, c: "x" * n + c, st.integers(0, 3000), _ODD),
        st.tuples(_ODD, st.integers(-(2**63), 2**63 - 1), st.sampled_from([SOURCE, "camt"])),
        max_size=25,
    ),
    data=st.data(),
)
def test_known_frame_read_whole_is_known_for_any_keys(held, data) -> None:
    """Whatever text the ledger's keys hold, each batch asked (keys twice, keys near a held
    one) is answered as SQLite answers it (`known`): looked up, joined to the rows read
    whole at the first batch or a later one, and with a hash that makes every key collide
    (a collision never makes a key known)."""
    ledger = _Ledger({k: (text, vid, src) for k, (text, vid, src) in held.items()}, {})
    near = [k + "a" for k in held] + [k[:-1] for k in held] + [k.upper() for k in held]
    pool = sorted(held) + near
    asked = st.lists((st.sampled_from(pool) | _ODD) if pool else _ODD, max_size=30)
    batches = data.draw(st.lists(asked, min_size=1, max_size=4), "batches")
    share = data.draw(st.sampled_from([0, 1, 1 << 40]), "scan share")
    colliding = data.draw(st.booleans(), "colliding hash")
    with pytest.MonkeyPatch.context() as m, ledger.snapshot():
        m.setattr(ledger_module, "_SCAN_SHARE", share)
        if colliding:  # every key in one of two buckets
            m.setattr(pl.Expr, "hash", lambda self, *_: (self.str.len_bytes() % 2).cast(pl.UInt64))
        for keys in batches:
            frame = ledger.known_frame(pl.Series(sorted(keys), dtype=pl.String))
            assert frame.schema == pl.Schema(ledger_module._known_schema())
            assert sorted(frame.rows()) == sorted((k, *v) for k, v in ledger.known(keys).items())
        assert ledger._scan is not None
        scanned = ledger._scan.frame is not None
    asked_all = sum(map(len, batches)) * share
    assert scanned == (not held or asked_all >= len(held))
