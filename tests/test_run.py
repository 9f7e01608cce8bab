"""`bokfor run` over client folders (issue 21): the accountant's night, end to end.

25 client folders made by `bokfor init --client`, fed the repository's samples: each good
file is booked exactly once (the SIE files are the ones `convert` writes for the same files),
a file bokfor cannot use is rejected with a note and does not stop its client's other files,
a broken mapping rejects its client's files, a second night of the same downloads books
nothing and exits 0, and the JSON summary is valid against docs/run.schema.json.
"""

from __future__ import annotations

import contextlib
import io
import datetime as dt
import json
import os
import re
import shutil
import signal
import sqlite3
from pathlib import Path

import jsonschema
import pytest

from bokfor import nightly
from bokfor.cli import main
from bokfor.sie.reader import read as read_sie
from tests.test_errors import REPO, run_cli
from tests.test_push import clock, env, fake  # noqa: F401  (fixtures: the fake Fortnox)

SAMPLES = REPO / "samples"
SCHEMA = json.loads((REPO / "docs" / "run.schema.json").read_text(encoding="utf-8"))
PAYOUT_RECON = (
    "stripe/Itemized_payout_reconciliation_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
)
BAD_AMOUNT = REPO / "tests" / "errors" / "convert-bad-amount" / "export.csv"

# client -> (kind, inputs: a sample path, or (name, bytes) for a file made here)
CLIENTS: dict[str, tuple[str, list]] = {
    "bank-bgmax": ("bank", ["bank/bgmax_ocr.txt"]),
    "bank-camt053": ("bank", ["bank/camt053_seb.xml"]),
    "bank-camt054": ("bank", ["bank/camt054_bankgiro.xml"]),
    "bank-mt940": ("bank", ["bank/mt940_seb.sta"]),
    "bank-nets": ("bank", ["bank/nets_ocr_dnb.txt"]),
    "bank-two-files": ("bank", ["bank/bgmax_ocr.txt", "bank/nets_ocr_dnb.txt"]),
    "bank-with-pdf": (
        "bank",
        ["bank/camt053_seb.xml", ("kontoutdrag.pdf", b"%PDF-1.4\n%\xe2\xe3\n")],
    ),
    "bank-empty-file": ("bank", ["bank/camt054_bankgiro.xml", ("tom.csv", b"")]),
    "bank-idle": ("bank", []),
    "bank-broken-mapping": ("bank", ["bank/mt940_seb.sta", "bank/bgmax_ocr.txt"]),
    "stripe-balance": ("stripe", ["stripe/balance_history.csv"]),
    "stripe-payments": ("stripe", ["stripe/unified_payments.csv"]),
    "stripe-payouts": ("stripe", ["stripe/payouts.csv"]),
    "stripe-itemized-payouts": (
        "stripe",
        ["stripe/Itemized_payouts_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"],
    ),
    "stripe-activity": (
        "stripe",
        [
            "stripe/Itemized_balance_change_from_activity_SEK_2026-01-01_to_2026-02-01_"
            "Europe-Stockholm.csv"
        ],
    ),
    "stripe-year-end-1": ("stripe", [PAYOUT_RECON]),
    "stripe-year-end-2": (
        "stripe",
        [
            PAYOUT_RECON,
            (
                "Balance_Summary.csv",
                (
                    SAMPLES
                    / "stripe/Balance_Summary_SEK_2026-01-01_to_2026-02-01_Europe-Stockholm.csv"
                ).read_bytes(),
            ),
        ],
    ),
    "stripe-bad-amount": (
        "stripe",
        ["stripe/balance_history.csv", ("export.csv", BAD_AMOUNT.read_bytes())],
    ),
    "stripe-idle": ("stripe", []),
    "pos-sie": ("pos", ["pos/kassa_sie_export.si"]),
    "pos-z1": ("pos", ["pos/z-dagrapport_K1_1001.csv"]),
    "pos-z2": ("pos", ["pos/z-dagrapport_K2_57.csv"]),
    "pos-zettle-receipts": ("pos", ["pos/zettle_receipts_sv.csv"]),
    "pos-zettle-statement": ("pos", ["pos/zettle_statement_sv.csv"]),
    "pos-x-report": ("pos", ["pos/z-dagrapport_K1_1001.csv", "pos/x-dagrapport_K1.csv"]),
}
# Files bokfor cannot use, and the start of the reason their note gives.
REJECTED = {
    ("bank-with-pdf", "kontoutdrag.pdf"): "not a file bokfor can read",
    ("bank-empty-file", "tom.csv"): "not a file bokfor can read",
    ("stripe-year-end-2", "Balance_Summary.csv"): "not a file bokfor can read",
    ("stripe-bad-amount", "export.csv"): "export.csv:3: column 'Amount': not an amount: '12,3,4'",
    ("pos-x-report", "x-dagrapport_K1.csv"): "K1 2026-12-04: this is an X-dagrapport",
    ("bank-broken-mapping", "mt940_seb.sta"): "unknown key 'acounts'",
    ("bank-broken-mapping", "bgmax_ocr.txt"): "unknown key 'acounts'",
}


def _name(item) -> str:
    return Path(item).name if isinstance(item, str) else item[0]


def _drop(inbox: Path, items: list) -> None:
    """The night's downloads arrive in the inbox."""
    for item in items:
        if isinstance(item, str):
            shutil.copyfile(SAMPLES / item, inbox / Path(item).name)
        else:
            (inbox / item[0]).write_bytes(item[1])


def _good(client: str) -> list[str]:
    return sorted(_name(i) for i in CLIENTS[client][1] if (client, _name(i)) not in REJECTED)


@pytest.fixture(scope="module")
def _clients(tmp_path_factory) -> Path:
    """The 25 client folders, made once (`bokfor init --client` 25 times costs ~0.7 s); each
    test gets a copy (`night`), since a run moves the inboxes' files."""
    root = tmp_path_factory.mktemp("night") / "clients"
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()) as err,
    ):
        mp.setenv("SOURCE_DATE_EPOCH", "1767225600")
        for client, (kind, items) in CLIENTS.items():
            folder = root / client
            with pytest.raises(SystemExit) as done:
                main(["init", "--client", str(folder), "--kind", kind])
            assert done.value.code in (0, None), err.getvalue()
            if kind == "bank":  # the bank starter books few texts: its bookkeeper wrote the rest
                shutil.copyfile(REPO / "mappings" / "bank.yaml", folder / "mapping.yaml")
            _drop(folder / "inbox", items)
    mapping = root / "bank-broken-mapping" / "mapping.yaml"
    mapping.write_text(
        mapping.read_text(encoding="utf-8").replace("\naccounts:", "\nacounts:"), encoding="utf-8"
    )
    return root


@pytest.fixture
def night(_clients, tmp_path, monkeypatch):
    """25 client folders from `bokfor init --client`, their inboxes filled; the bank
    clients' mappings are the example bank mapping, which names their bank accounts. (Paths
    in a client folder are relative to it: a copy is a client of its own.)"""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    monkeypatch.setenv("COLUMNS", "200")
    shutil.copytree(_clients, tmp_path / "clients", copy_function=shutil.copyfile)
    folders = [tmp_path / "clients" / client for client in CLIENTS]
    assert len(folders) == 25 and all(f.is_dir() for f in folders)
    return folders


def _summary(args: list[str], capsys) -> tuple[int, dict, str]:
    code, out, err = run_cli(["run", *args, "--json"], capsys)
    summary = json.loads(out)
    jsonschema.validate(summary, SCHEMA)
    assert summary["exit"] == code
    return code, summary, err


def _expected_sie(tmp_path: Path, client: str, folder: Path, capsys) -> dict[str, bytes]:
    """What `bokfor convert` writes for the client's good files, with a ledger of its own."""
    scratch = tmp_path / "convert" / client
    scratch.mkdir(parents=True)
    inputs = [str(folder / "inbox" / name) for name in _good(client)]  # the run's order
    code, _, err = run_cli(
        [
            "convert",
            *inputs,
            "-m",
            str(folder / "mapping.yaml"),
            "--out",
            str(scratch / "{year}.si"),
            "--ledger",
            str(scratch / "ledger.sqlite"),
            "--quiet",
        ],
        capsys,
    )
    assert code == 0, err
    return {p.name: p.read_bytes() for p in sorted(scratch.glob("*.si"))}


def test_a_night_of_25_clients_then_the_same_downloads_again(night, tmp_path, capsys):
    code, summary, err = _summary([*map(str, night), "--jobs", "2"], capsys)
    assert code == 2, err
    clients = {c["client"]: c for c in summary["clients"]}
    assert list(clients) == list(CLIENTS)  # in the order given
    assert {n: c["status"] for n, c in clients.items() if c["status"] != "done"} == {
        "bank-with-pdf": "attention",
        "bank-empty-file": "attention",
        "bank-idle": "idle",
        "bank-broken-mapping": "attention",
        "stripe-year-end-2": "attention",
        "stripe-bad-amount": "attention",
        "stripe-idle": "idle",
        "pos-x-report": "attention",
    }

    # Every inbox is empty: each file was archived (booked) or rejected with a note.
    for folder in night:
        client = folder.name
        assert list((folder / "inbox").iterdir()) == []
        rejected = sorted(p.name for p in (folder / "rejected").iterdir())
        names = sorted(n for (c, n) in REJECTED if c == client)
        assert rejected == sorted(names + [n + ".why.txt" for n in names])
        for name in names:
            note = (folder / "rejected" / (name + ".why.txt")).read_text(encoding="utf-8")
            assert note.startswith(
                f"{name}: not booked, nor the client's other files: {folder / 'mapping.yaml'}:"
                if client == "bank-broken-mapping"
                else f"{name}: {folder / 'inbox' / name}:"
            )
            assert REJECTED[client, name] in note.splitlines()[0]
            assert f"move the file back to {folder / 'inbox'}" in note
        archived = sorted(p.name for p in (folder / "archive").glob("*/*"))
        assert archived == (_good(client) if client != "bank-broken-mapping" else [])
        entry = clients[client]
        assert {f["name"]: f["status"] for f in entry["files"]} == {
            **{n: "booked" for n in archived},
            **{n: "rejected" for n in names},
        }
        if entry["status"] == "idle":
            assert entry["report"] is None and not list((folder / "reports").iterdir())
        else:  # the client's report is the summary's entry
            report = json.loads(Path(entry["report"]).read_text(encoding="utf-8"))
            assert report == {**entry, "report": None}

    # The broken mapping: one error for the client, both files rejected with it.
    broken = clients["bank-broken-mapping"]
    assert len(broken["errors"]) == 1 and "unknown key 'acounts'" in broken["errors"][0]
    assert "unknown key 'acounts'" in err

    # Booked exactly once: each client's SIE files are what convert writes for its good
    # files alone, one a fiscal year, and its ledger holds each of their vouchers once.
    for folder in night:
        client = folder.name
        written = {
            Path(o["path"]).name: Path(o["path"]).read_bytes() for o in clients[client]["outputs"]
        }
        review = clients[client]["review"]  # the run's review page, beside its first file
        assert (review is None) == (written == {})
        assert sorted(p.name for p in (folder / "out").iterdir()) == sorted(
            [*written, *([Path(review).name] if review else [])]
        )
        if review:
            first = Path(clients[client]["outputs"][0]["path"])
            assert Path(review) == first.with_name(first.stem + ".html")
            assert 'data-status="+"' in Path(review).read_text(encoding="utf-8")
        if not _good(client) or client == "bank-broken-mapping":
            assert written == {}
            continue
        for name in _good(client):  # convert reads the same bytes from the inbox
            shutil.copyfile(next((folder / "archive").glob(f"*/{name}")), folder / "inbox" / name)
        expected = _expected_sie(tmp_path, client, folder, capsys)
        for name in _good(client):
            (folder / "inbox" / name).unlink()
        years = sorted(o["year"] for o in clients[client]["outputs"])
        assert sorted(expected) == [f"{y}.si" for y in years]
        by_year = {o["year"]: Path(o["path"]).read_bytes() for o in clients[client]["outputs"]}
        assert {f"{y}.si": data for y, data in by_year.items()} == expected, client
        vouchers = sum(
            len(read_sie(Path(o["path"])).document.vouchers) for o in clients[client]["outputs"]
        )
        assert vouchers == clients[client]["vouchers"] > 0
        with sqlite3.connect(folder / "ledger.sqlite") as db:
            assert db.execute("SELECT count(*) FROM vouchers").fetchone()[0] == vouchers
    for client in ("stripe-year-end-1", "stripe-year-end-2"):
        assert [o["year"] for o in clients[client]["outputs"]] == ["2025", "2026"]
        assert [Path(o["path"]).name for o in clients[client]["outputs"]] == [
            "stripe_report-1-2025.si",
            "stripe_report-1-2026.si",
        ]
    assert summary["totals"] == {
        "clients": 25,
        "files": 30,
        "booked": 23,
        "nothing_new": 0,
        "rejected": 7,
        "left": 0,
        "errors": 1,
        "vouchers": sum(c["vouchers"] for c in clients.values()),
    }

    # The second night: the same downloads again (the good ones). Nothing is booked, every
    # file is archived beside the first night's copy, and the run exits 0.
    for folder in night:
        _drop(
            folder / "inbox",
            [
                i
                for i in CLIENTS[folder.name][1]
                if _name(i) in _good(folder.name) and folder.name != "bank-broken-mapping"
            ],
        )
    before = {p: p.read_bytes() for f in night for p in (f / "out").iterdir()}
    code, again, err = _summary([*map(str, night), "--jobs", "2"], capsys)
    assert code == 0, err
    assert again["totals"]["vouchers"] == 0 and again["totals"]["rejected"] == 0
    assert again["totals"]["nothing_new"] == 23
    assert {p: p.read_bytes() for f in night for p in (f / "out").iterdir()} == before
    for folder in night:
        assert list((folder / "inbox").iterdir()) == []
        for name in _good(folder.name) if folder.name != "bank-broken-mapping" else []:
            stem, suffix = os.path.splitext(name)
            assert sorted(
                p.name for p in (folder / "archive").glob("*/*") if p.name.startswith(stem)
            ) == sorted([name, f"{stem}-2{suffix}"])


def test_the_table_and_quiet(night, capsys):
    """Without --json: a table on stdout; --quiet prints only what needs a person."""
    folders = [f for f in night if f.name in ("bank-bgmax", "bank-with-pdf", "stripe-idle")]
    code, out, err = run_cli(["run", *map(str, folders), "--jobs", "1"], capsys)
    assert code == 2
    lines = out.splitlines()
    assert "┃ Client" in lines[1] and "New vouchers" in lines[1] and "Rejected" in lines[1]
    assert any("bank-bgmax" in line and " done " in line and "bgmax-1.si" in line for line in lines)
    assert lines[-1].startswith(
        "3 clients, 3 files: 18 new vouchers, 0 files with nothing new, 1 rejected, 0 errors"
    )
    pdf = night[6] / "rejected" / "kontoutdrag.pdf"
    assert err.startswith(
        f"bokfor: error: bank-with-pdf: kontoutdrag.pdf rejected, moved to "
        f"{pdf} (why: kontoutdrag.pdf.why.txt): {night[6]}/inbox/kontoutdrag.pdf:"
        " not a file bokfor can read"
    )
    assert "bokfor: warning: bank-with-pdf:" in err  # camt's pending entry
    _drop(night[6] / "inbox", [("scan.pdf", b"%PDF")])
    code, out, err = run_cli(["run", *map(str, folders), "--quiet"], capsys)
    assert (code, out) == (2, "")
    assert (
        err
        == (
            f"bokfor: error: bank-with-pdf: scan.pdf rejected, moved to "
            f"{night[6] / 'rejected' / 'scan.pdf'} (why: scan.pdf.why.txt): "
            f"{night[6]}/inbox/scan.pdf: not a file bokfor can read: its header matches "
            "no known format"
        )
        + err[err.index(" Fix: bokfor reads:") :]
    )
    assert err.count("\n") == 1
    code, out, err = run_cli(["run", *map(str, folders), "--quiet"], capsys)
    assert (code, out, err) == (0, "", "")  # all idle: cron mails nothing


def test_a_crashed_client_is_its_own_internal_error(night, capsys, monkeypatch):
    """A child that dies (a bug, a segfault) is reported for its client; the others run."""
    real = nightly.run_client

    def run_client(folder, today=None):
        if folder.name == "bank-camt053":
            os.kill(os.getpid(), signal.SIGKILL)
        if folder.name == "bank-camt054":
            raise ZeroDivisionError("division by zero")
        return real(folder, today)

    monkeypatch.setattr(nightly, "run_client", run_client)
    folders = night[:4]
    code, summary, err = _summary([*map(str, folders), "--jobs", "2"], capsys)
    assert code == 1
    clients = {c["client"]: c for c in summary["clients"]}
    assert [c["status"] for c in summary["clients"]] == ["done", "failed", "failed", "done"]
    assert clients["bank-camt053"]["errors"] == [
        "internal error: the client's process was killed by signal 9 (SIGKILL) (a bug: report "
        "it; the client's files are where they were)"
    ]
    assert clients["bank-camt054"]["errors"] == [
        "internal error: the client's process failed: ZeroDivisionError: division by zero (a "
        "bug: report it; the client's files are where they were)"
    ]
    assert (night[1] / "inbox" / "camt053_seb.xml").exists()
    assert clients["bank-mt940"]["vouchers"] == 12
    assert "bokfor: error: bank-camt053: internal error" in err


@pytest.mark.parametrize("name", ["archive", "rejected", "reports", "out"])
def test_a_client_folder_that_is_a_file_leaves_the_inbox_as_it_is(night, capsys, name):
    """A file where the client's archive/, rejected/, reports/ or out/ should be: found
    before anything is booked, one message naming it for its client (exit 1), and the
    inbox's files stay where they are; none is rejected for what is the folder's fault."""
    folder = night[0]
    shutil.rmtree(folder / name, ignore_errors=True)
    (folder / name).write_text("not a folder", encoding="utf-8")
    code, summary, err = _summary([str(folder)], capsys)
    client = summary["clients"][0]
    assert code == 1 and client["status"] == "failed" and client["vouchers"] == 0
    assert client["errors"][0] == (
        f"{folder / 'bokfor.yaml'}: {folder / name} is a file, not a folder Fix: move the "
        "file away (bokfor makes the folder), or name another folder in bokfor.yaml; the "
        "inbox's files stay where they are."
    )
    assert (folder / "inbox" / "bgmax_ocr.txt").exists() and "internal error" not in err


def test_a_file_that_cannot_be_filed_away_is_the_client_s_message_not_a_crash(night, capsys):
    """archive/ is a folder but the day's folder in it cannot be made (a file has its
    name): the run books the files and writes the SIE file, then says for its client that
    it cannot file them away, leaves them in the inbox, and the next run books nothing
    twice (it was 'internal error … a bug')."""
    folder = night[0]
    today = dt.date.today()
    for day in (today, today + dt.timedelta(days=1)):  # a run across midnight
        (folder / "archive" / day.isoformat()).write_text("not a folder", encoding="utf-8")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 1
    client = summary["clients"][0]
    inbox = folder / "inbox" / "bgmax_ocr.txt"
    assert client["status"] == "failed" and client["vouchers"] > 0
    [error] = client["errors"]
    day = re.escape(str(folder / "archive")) + r"/\d{4}-\d\d-\d\d"
    assert re.fullmatch(
        f"{re.escape(str(inbox))}: cannot file it in {day}: File exists Fix: make {day} "
        "a folder this user may write; the file stays where it is, and the export ledger "
        "keeps what was booked from being booked again.",
        error,
    ), error
    assert inbox.exists() and "internal error" not in err
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 1 and summary["clients"][0]["vouchers"] == 0


@pytest.mark.parametrize(
    "inbox, what",
    [
        (".", "bokfor.yaml's folder"),
        ("out", "the out folder"),
        ("archive", "the archive folder"),
        ("rejected", "the rejected folder"),
    ],
)
def test_an_inbox_that_holds_the_client_s_own_files_is_refused(night, capsys, inbox, what):
    """`inbox: .` made a run take bokfor.yaml, the mapping and the ledger for inputs and
    move them to rejected/, then book the inbox's files again into a new, empty ledger:
    every voucher twice. An inbox that is the client folder, or holds its mapping, ledger
    or token file, or is its out, archive, rejected or reports folder, is refused before
    anything is read or moved."""
    folder = night[0]
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 0 and summary["clients"][0]["vouchers"] > 0
    ledger = (folder / "ledger.sqlite").read_bytes()
    shutil.copy(folder / "archive" / next((folder / "archive").iterdir()).name / "bgmax_ocr.txt",
                folder / "bgmax_ocr.txt")  # fmt: skip
    config = folder / "bokfor.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"inbox: {inbox}\n", encoding="utf-8")
    line = config.read_text(encoding="utf-8").count("\n")
    before = sorted(p.relative_to(folder) for p in folder.rglob("*"))
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 2
    assert summary["clients"][0]["errors"] == [
        f"{config}:{line}: inbox: the inbox {folder / inbox} is {what}: every file in the "
        "inbox is booked, then filed away or rejected Fix: give the inbox a folder of its "
        "own (`inbox: inbox`)."
    ]
    assert sorted(p.relative_to(folder) for p in folder.rglob("*")) == before
    assert (folder / "ledger.sqlite").read_bytes() == ledger


def test_inbox_skips_hidden_and_partial_files(night, capsys):
    """Hidden, lock and half-downloaded files are not inputs: they stay in the inbox."""
    inbox = night[0] / "inbox"
    for name in (".DS_Store", "~$lista.xlsx", "mars.csv.part", "april.csv.crdownload"):
        (inbox / name).write_bytes(b"garbage")
    (inbox / "subfolder").mkdir()
    code, summary, err = _summary([str(night[0])], capsys)
    assert code == 0, err
    assert [f["name"] for f in summary["clients"][0]["files"]] == ["bgmax_ocr.txt"]
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".DS_Store",
        "april.csv.crdownload",
        "mars.csv.part",
        "subfolder",
        "~$lista.xlsx",
    ]


def test_client_config_paths_and_strict(night, capsys):
    """bokfor.yaml's keys: another inbox, out template, ledger and client name."""
    folder = night[0]
    (folder / "bokfor.yaml").write_text(
        "client: Kund AB\nmapping: mapping.yaml\ninbox: nedladdat\nout: 'sie/{year}-{run}.si'\n"
        "ledger: data/bokfor.sqlite\narchive: klart\n",
        encoding="utf-8",
    )
    (folder / "nedladdat").mkdir()
    (folder / "data").mkdir()
    shutil.move(folder / "inbox" / "bgmax_ocr.txt", folder / "nedladdat" / "bgmax_ocr.txt")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    entry = summary["clients"][0]
    assert entry["client"] == "Kund AB"
    assert [o["path"] for o in entry["outputs"]] == [str(folder / "sie" / "2026-1.si")]
    assert (folder / "data" / "bokfor.sqlite").exists() and not (folder / "ledger.sqlite").exists()
    assert [p.relative_to(folder).parts[0] for p in folder.glob("klart/*/*")] == ["klart"]


def test_a_doubt_under_strict_rejects_the_clients_files(night, capsys):
    """The same account's camt.053 one night and its net-bank CSV the next (the same money,
    two formats): with strict (the default) the night's files go to rejected/ with the
    doubt and nothing is booked; `strict: false` books them with a warning."""
    folder = night[1]  # bank-camt053
    shutil.copyfile(
        REPO / "tests" / "fixtures" / "ledger_v3" / "bank.yaml", folder / "mapping.yaml"
    )
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    seb = REPO / "tests" / "errors" / "convert-bank-doubt-strict" / "seb.csv"
    shutil.copyfile(seb, folder / "inbox" / "seb.csv")
    shutil.copyfile(SAMPLES / "bank" / "bgmax_ocr.txt", folder / "inbox" / "bgmax_ocr.txt")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 2
    entry = summary["clients"][0]
    assert (entry["vouchers"], entry["rejected"], entry["outputs"]) == (0, 2, [])
    assert entry["errors"][0].startswith(
        f"{folder}/inbox/seb.csv: --strict: 3 warnings that may mean rows booked twice or "
        "lost; nothing was written"
    )
    assert sorted(p.name for p in (folder / "out").iterdir()) == ["camt-1.html", "camt-1.si"]
    (folder / "bokfor.yaml").write_text("mapping: mapping.yaml\nstrict: false\n", encoding="utf-8")
    for name in ("seb.csv", "bgmax_ocr.txt"):
        shutil.move(folder / "rejected" / name, folder / "inbox" / name)
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    entry = summary["clients"][0]
    assert [(f["name"], f["status"]) for f in entry["files"]] == [
        ("bgmax_ocr.txt", "booked"),
        ("seb.csv", "booked"),
    ]
    assert (
        sum(
            "was exported from camt (another format of the same bank account)" in w
            for w in entry["warnings"]
        )
        == 3
    )


def test_action_push_posts_each_voucher_once(tmp_path, capsys, env):
    """`action: push`: the client's vouchers go to Fortnox (the fake), each once; the same
    download the next night posts nothing."""
    from tests.test_push import assert_exactly_once, per_row, stripe_csv

    folder = tmp_path / "kund"
    code, _, err = run_cli(["init", "--client", str(folder), "--kind", "stripe"], capsys)
    assert code == 0, err
    shutil.copyfile(per_row(tmp_path), folder / "mapping.yaml")
    (folder / "bokfor.yaml").write_text("mapping: mapping.yaml\naction: push\n", encoding="utf-8")
    csv = stripe_csv(tmp_path / "balance.csv", 6)
    shutil.copyfile(csv, folder / "inbox" / "balance.csv")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    entry = summary["clients"][0]
    assert (entry["action"], entry["vouchers"], entry["status"]) == ("push", 6, "done")
    assert entry["outputs"] == [
        {"path": f"Fortnox ({env.base_url})", "year": None, "export": 1, "vouchers": 6}
    ]
    assert_exactly_once(env, folder / "ledger.sqlite", 6)
    shutil.copyfile(csv, folder / "inbox" / "balance.csv")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    assert summary["clients"][0]["files"][0]["status"] == "nothing-new"
    assert_exactly_once(env, folder / "ledger.sqlite", 6)
    assert sorted(p.name for p in folder.glob("archive/*/*")) == ["balance-2.csv", "balance.csv"]


def test_convert_reads_the_files_in_a_directory(tmp_path, capsys, monkeypatch):
    """`convert DIR` books the input files in DIR, sorted, as if each were named; hidden and
    half-downloaded files are skipped."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")
    folder = tmp_path / "downloads"
    folder.mkdir()
    _drop(
        folder,
        [
            "bank/nets_ocr_dnb.txt",
            "bank/bgmax_ocr.txt",
            (".~lock.x#", b"x"),
            ("mars.csv.part", b"x"),
        ],
    )
    common = ["-m", str(REPO / "mappings" / "bank.yaml"), "--quiet"]
    code, _, err = run_cli(
        [
            "convert",
            str(folder),
            *common,
            "--out",
            str(tmp_path / "dir.si"),
            "--ledger",
            str(tmp_path / "a.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    named = [str(folder / "bgmax_ocr.txt"), str(folder / "nets_ocr_dnb.txt")]
    code, _, err = run_cli(
        [
            "convert",
            *named,
            *common,
            "--out",
            str(tmp_path / "named.si"),
            "--ledger",
            str(tmp_path / "b.sqlite"),
        ],
        capsys,
    )
    assert code == 0, err
    assert (tmp_path / "dir.si").read_bytes() == (tmp_path / "named.si").read_bytes()
    assert len(read_sie(tmp_path / "dir.si").document.vouchers) == 11


def test_init_client_where_no_folder_can_be_made_is_one_message(tmp_path, capsys):
    """A client folder under a file (or in a folder this user may not write): the message
    atomic_write gives for a file, exit 1 (it was an internal error)."""
    (tmp_path / "notes.txt").write_text("a file", encoding="utf-8")
    folder = tmp_path / "notes.txt" / "Kund"
    assert run_cli(["init", "--client", str(folder)], capsys)[::2] == (
        1,
        f"bokfor: error: {folder}: cannot write here: Not a directory\n",
    )


@pytest.mark.parametrize("kind", ["stripe", "bank", "pos", None])
def test_init_client_gives_a_mapping_that_checks(kind, tmp_path, capsys):
    """Each kind's starter is shipped in the package (Stripe and POS: the example mapping
    of that kind; bank: a starter of its own, tests/test_authoring.py) and passes `mapping
    check`; the folder has every folder `run` uses."""
    folder = tmp_path / "Kund & Co"
    code, out, err = run_cli(
        ["init", "--client", str(folder), *(["--kind", kind] if kind else [])], capsys
    )
    assert code == 0, err
    assert sorted(p.name for p in folder.iterdir()) == [
        "archive",
        "bokfor.yaml",
        "inbox",
        "mapping.yaml",
        "out",
        "rejected",
        "reports",
    ]
    source = (
        REPO / "mappings" / f"{kind}.yaml"
        if kind in ("stripe", "pos")
        else REPO / "src" / "bokfor" / ("starter.yaml" if kind is None else "starters/bank.yaml")
    )
    assert (folder / "mapping.yaml").read_bytes() == source.read_bytes()
    assert 'client: "Kund & Co"' in (folder / "bokfor.yaml").read_text(encoding="utf-8")
    if kind:
        code, out, err = run_cli(["mapping", "check", str(folder / "mapping.yaml")], capsys)
        assert code == 0, err
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0 and summary["clients"][0]["client"] == "Kund & Co"
    assert summary["clients"][0]["status"] == "idle"


def test_one_run_of_a_client_at_a_time(night, capsys):
    """A second `bokfor run` of a client that one is running leaves its files to it."""
    from filelock import FileLock

    folder = night[0]
    with FileLock(str(folder / nightly.RUN_LOCK)):
        code, summary, err = _summary([str(folder), str(night[1])], capsys)
    assert code == 2
    busy, other = summary["clients"]
    assert busy["errors"] == [
        f"{folder}: another bokfor run is running this client; its files "
        "were left to it Fix: run each client from one cron job only."
    ]
    assert [(f["name"], f["status"], f["to"]) for f in busy["files"]] == [
        ("bgmax_ocr.txt", "left", None)
    ]
    assert (folder / "inbox" / "bgmax_ocr.txt").exists() and other["status"] == "done"
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0 and summary["clients"][0]["vouchers"] == 6


def test_a_push_refused_part_way_leaves_the_files_and_reports_what_was_posted(
    tmp_path, capsys, env, monkeypatch
):
    """Fortnox refuses the 4th of 6 vouchers: 3 are posted and recorded. The files stay in
    the inbox, reported as such (before: rejected, "not booked", 0 vouchers: a bookkeeper
    might enter the 3 by hand); the next night posts the rest once."""
    from tests.test_push import assert_exactly_once, per_row, stripe_csv

    folder = tmp_path / "kund"
    assert run_cli(["init", "--client", str(folder), "--kind", "stripe"], capsys)[0] == 0
    shutil.copyfile(per_row(tmp_path), folder / "mapping.yaml")
    (folder / "bokfor.yaml").write_text("mapping: mapping.yaml\naction: push\n", encoding="utf-8")
    shutil.copyfile(stripe_csv(tmp_path / "balance.csv", 6), folder / "inbox" / "balance.csv")
    post, posts = env.post_voucher, []

    def fourth_refused(query, body):
        posts.append(body)
        if len(posts) == 4:
            return env.error(400, 2000588, "Kontot är låst")
        return post(query, body)

    monkeypatch.setattr(env, "post_voucher", fourth_refused)
    code, summary, err = _summary([str(folder)], capsys)
    entry = summary["clients"][0]
    assert code == 2 and entry["status"] == "attention"
    assert entry["outputs"] == [
        {"path": f"Fortnox ({env.base_url})", "year": None, "export": None, "vouchers": 3}
    ]
    assert [(f["name"], f["status"], f["error"]) for f in entry["files"]] == [
        (
            "balance.csv",
            "left",
            "3 vouchers posted and recorded; the rest were not: left in the inbox",
        )
    ]
    assert (folder / "inbox" / "balance.csv").exists() and not list(folder.glob("rejected/*"))
    monkeypatch.setattr(env, "post_voucher", post)
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 0, err
    assert summary["clients"][0]["vouchers"] == 3
    assert_exactly_once(env, folder / "ledger.sqlite", 6)


def test_a_file_that_changes_while_it_is_booked_stays_in_the_inbox(night, capsys, monkeypatch):
    """A download still being written when the run read it: its rows read were booked, the
    file is not archived (it would be, with rows never booked); the next run books the rest."""
    from bokfor import steps

    folder = next(f for f in night if f.name == "stripe-idle")
    inbox = folder / "inbox"
    shutil.copyfile(SAMPLES / "stripe" / "balance_history.csv", inbox / "balance.csv")
    lines = (inbox / "balance.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    late = lines[1].replace("txn_3QVQp8", "txn_3QLATE").replace("ch_3QVQp8", "ch_3QLATE")
    carry_out = steps.carry_out

    def grows(*args, **kwargs):
        done = carry_out(*args, **kwargs)
        with open(inbox / "balance.csv", "a", encoding="utf-8") as fh:  # the download goes on
            fh.write(late)
        return done

    monkeypatch.setattr(steps, "carry_out", grows)
    code, summary, _ = _summary([str(folder)], capsys)
    entry = summary["clients"][0]
    assert [(f["name"], f["status"]) for f in entry["files"]] == [("balance.csv", "left")]
    assert any("it changed while bokfor read it" in w for w in entry["warnings"])
    monkeypatch.setattr(steps, "carry_out", carry_out)
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 0
    assert [(f["name"], f["status"], f["vouchers"]) for f in summary["clients"][0]["files"]] == [
        ("balance.csv", "booked", 1)
    ]  # the late charge: a voucher of its own


def test_links_in_the_inbox_are_rejected_and_a_folder_named_twice_runs_once(
    night, capsys, tmp_path
):
    folder = next(f for f in night if f.name == "bank-mt940")
    outside = tmp_path / "outside.sta"
    shutil.copyfile(SAMPLES / "bank" / "mt940_seb.sta", outside)
    (folder / "inbox" / "link.sta").symlink_to(outside)
    (folder / "inbox" / "dangling.sta").symlink_to(tmp_path / "gone.sta")
    code, summary, _ = _summary([str(folder), str(folder) + "/", str(folder / ".")], capsys)
    assert len(summary["clients"]) == 1
    files = {f["name"]: f for f in summary["clients"][0]["files"]}
    assert files["link.sta"]["status"] == files["dangling.sta"]["status"] == "rejected"
    assert "a link, or not a regular file" in files["link.sta"]["error"]
    assert outside.exists() and (folder / "rejected" / "link.sta.why.txt").exists()


def _tree(folder: Path) -> dict[Path, bytes | None]:
    return {p: p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize(
    "inbox, what",
    [
        ("../{other}", "the client folder {other_folder}"),
        ("../{other}/inbox", "inside the client folder {other_folder}"),
        ("..", "a folder holding the client folder {folder}"),
        ("shared", "a folder holding the client folder {folder}/shared/old"),
    ],
)
def test_an_inbox_that_is_in_or_holds_another_client_folder_is_refused(night, capsys, inbox, what):
    """`inbox: ../c2` (a typo for ../c2-inbox) made `bokfor run c1` file c2's ledger,
    mapping and bokfor.yaml away into c1/rejected/: c2's next run booked everything again.
    An inbox that is another client folder, is inside one or holds one is refused before
    anything is read or moved, in either folder."""
    folder, other = night[0], night[1]
    code, summary, _ = _summary([str(other)], capsys)
    assert code == 0 and summary["clients"][0]["vouchers"] > 0
    (folder / "shared" / "old").mkdir(parents=True)
    shutil.copyfile(folder / "bokfor.yaml", folder / "shared" / "old" / "bokfor.yaml")
    inbox = inbox.format(other=other.name)
    config = folder / "bokfor.yaml"
    config.write_text(config.read_text(encoding="utf-8") + f"inbox: {inbox}\n", encoding="utf-8")
    line = config.read_text(encoding="utf-8").count("\n")
    before = _tree(folder.parent)
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 2
    said = what.format(other_folder=other, folder=folder)
    assert summary["clients"][0]["errors"] == [
        f"{config}:{line}: inbox: the inbox {folder / inbox} is {said}: every file in the "
        "inbox is booked, then filed away or rejected Fix: give the inbox a folder of its "
        "own (`inbox: inbox`)."
    ]
    assert _tree(folder.parent) == before


@pytest.mark.parametrize(
    "name, what",
    [
        ("backup.db", "an export ledger (an SQLite file with bokfor's application id)"),
        (
            "ledger.sqlite-wal",
            "named as the client's export ledger or a file beside it (ledger.sqlite)",
        ),
        (
            "ledger.sqlite.lock",
            "named as the client's export ledger or a file beside it (ledger.sqlite)",
        ),
        ("kund2.yaml", "a mapping or a client's config (YAML)"),
        ("mapping.bak", "a mapping or a client's config (YAML)"),
    ],
)
def test_run_never_files_away_a_ledger_or_a_mapping_found_in_the_inbox(night, capsys, name, what):
    """A ledger (bokfor's application id, or the client's ledger's name), a bokfor.yaml or
    a mapping in the inbox is no file to book: the run refuses the inbox before anything
    moves, naming it, and every file stays where it is."""
    folder, other = night[0], night[1]
    code, summary, _ = _summary([str(other)], capsys)
    assert code == 0
    inbox = folder / "inbox"
    source = {
        "backup.db": other / "ledger.sqlite",
        "kund2.yaml": other / "mapping.yaml",
        "mapping.bak": other / "mapping.yaml",
    }.get(name)
    if source is None:
        (inbox / name).write_bytes(b"")
    else:
        shutil.copyfile(source, inbox / name)
    before = _tree(folder)
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 2
    client = summary["clients"][0]
    assert client["errors"] == [
        f"{inbox / name}: {what}, not a file to book: bokfor never files away a ledger, a "
        "bokfor.yaml or a mapping, and books none of the inbox's files while one is there "
        "Fix: move it out of the inbox; the other files stay where they are for the next run."
    ]
    assert {f["status"] for f in client["files"]} == {"left"} and client["vouchers"] == 0
    kept = ("reports", nightly.RUN_LOCK)  # the run's report; its lock
    assert {p: b for p, b in _tree(folder).items() if not set(kept) & set(p.parts)} == {
        p: b for p, b in before.items() if not set(kept) & set(p.parts)
    }


def test_the_review_page_never_replaces_a_file_an_export_wrote(night, capsys):
    """`out: out/{source}-{run}.html` made the review page, written "beside" the SIE file by
    its name with .html, the SIE file itself, after it was recorded: the run said done, and
    its vouchers were in no file. Such an `out` is refused; and a review page whose path is
    a file an export of the ledger wrote (here an earlier `convert` into the client's
    ledger) is not written: a warning, the file as it was."""
    folder = night[0]  # bank-bgmax: tonight's run is the ledger's run 2
    config = folder / "bokfor.yaml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text + "out: out/{source}-{run}.html\n", encoding="utf-8")
    before = _tree(folder)
    code, summary, _ = _summary([str(folder)], capsys)
    assert code == 2 and _tree(folder) == before
    assert summary["clients"][0]["errors"] == [
        f"{config}:{text.count(chr(10)) + 1}: out: 'out/{{source}}-{{run}}.html' ends in .html: "
        "the run's review page, written beside the run's file by its name with .html, would "
        "replace that file Fix: end it in .si "
        "(`out: out/{source}-{run}.si`), or leave `out` out."
    ]
    config.write_text(text, encoding="utf-8")
    earlier = folder / "out" / "bgmax-2.html"
    code, _, err = run_cli(
        ["convert", str(SAMPLES / "bank" / "nets_ocr_dnb.txt"), "-m", str(folder / "mapping.yaml")]
        + ["--ledger", str(folder / "ledger.sqlite"), "-o", str(earlier), "-q"],
        capsys,
    )
    assert code == 0, err
    kept = earlier.read_bytes()
    code, summary, _ = _summary([str(folder)], capsys)
    client = summary["clients"][0]
    assert code == 0 and [o["path"] for o in client["outputs"]] == [str(folder / "out/bgmax-2.si")]
    assert client["review"] is None and earlier.read_bytes() == kept
    assert client["warnings"] == [
        f"the review page was not written: review page {earlier} is export 1's file (5 "
        "verifikationer 2026-01-15 .. 2026-01-29): writing there would destroy it Fix: name "
        "another file for the output."
    ]
    code, _, err = run_cli(["ledger", "verify", "--ledger", str(folder / "ledger.sqlite")], capsys)
    assert code == 0, err


def test_a_file_whose_name_is_not_utf8_is_rejected_alone(tmp_path, capsys):
    """A Latin-1 name (an old share, a zip): the ledger records every file's name, so it is
    refused — before, the client's night ended in an internal error every night and none
    of its files were booked. Now that file alone is rejected, the others booked, and the
    night's report is JSON (the name shown with U+FFFD)."""
    folder = tmp_path / "kund"
    assert run_cli(["init", "--client", str(folder), "--kind", "stripe"], capsys)[0] == 0
    latin1 = folder / "inbox" / os.fsdecode(b"saldo_m\xe5nad.csv")
    shutil.copyfile(SAMPLES / "stripe" / "balance_history.csv", latin1)
    shutil.copyfile(SAMPLES / "stripe" / "balance_history.csv", folder / "inbox" / "good.csv")
    code, summary, err = _summary([str(folder)], capsys)
    assert code == 2, err
    entry = summary["clients"][0]
    assert entry["vouchers"] == 29 and "internal error" not in err
    assert sorted((f["name"], f["status"]) for f in entry["files"]) == [
        ("good.csv", "booked"),
        ("saldo_m?nad.csv", "rejected"),  # stdout shows what it cannot encode as ?
    ]
    assert (folder / "rejected" / latin1.name).exists()
    why = (folder / "rejected" / (latin1.name + ".why.txt")).read_bytes()
    assert b"saldo_m\xe5nad.csv: " in why and b"the file's name is not UTF-8 text" in why
    (report,) = (folder / "reports").glob("run-*.json")
    files = json.loads(report.read_text(encoding="utf-8"))["files"]
    assert {f["name"] for f in files} == {"good.csv", "saldo_m\ufffdnad.csv"}
