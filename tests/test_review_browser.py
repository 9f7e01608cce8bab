"""The review page and the mapping in words in a real browser: Chromium from the system
packages (`apt-get install -y chromium`; .ci/run installs it when missing), headless, with a
fresh profile. Its DOM is read back (`--dump-dom`): every verifikation and the sums per
account as bokfor wrote them. Its network log (`--log-net-log`) shows that the page asked for
nothing: a request the page makes has the page as its initiator, where the browser's own
(Chromium calls home even headless) have none. A control page without a policy shows that
such a request is seen (an image on 127.0.0.1, also in a frame) and that bokfor's policy
blocks one (the mapping-in-words page with an image slipped in, in a frame: the same page
without the policy, in another frame, fetches it). A screenshot of the
Stripe sample's page is kept as a test artefact (not a golden file) in $BOKFOR_ARTEFACTS,
else <tmp>/bokfor-artefacts-<uid>/review-stripe.png (one folder a user: another user's is
not writable). The two browsers run at once: ~5 s on an
idle machine (each starts in 2-4 s)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

import pytest

from .test_errors import run_cli
from .test_review import EPOCH, MAPPING, REPO, SAMPLE, Page

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (`apt-get install -y chromium`; "
    ".ci/run installs it): the pages are not checked in a browser",
)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
)
LEAK = '<img src="http://127.0.0.1:9/NAME.png" alt="">'


def artefacts() -> Path:
    path = Path(
        os.environ.get("BOKFOR_ARTEFACTS")
        or Path(tempfile.gettempdir()) / f"bokfor-artefacts-{os.getuid()}"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def browse(page: Path, work: Path, *extra: str) -> subprocess.Popen:
    """Chromium on `page` with a fresh profile; its DOM on stdout, its network log beside
    the page (`<page>.net.json`)."""
    return subprocess.Popen(
        [
            CHROMIUM,
            *FLAGS,
            f"--user-data-dir={work / (page.stem + '.profile')}",
            f"--log-net-log={work / (page.stem + '.net.json')}",
            *extra,
            "--dump-dom",
            page.as_uri(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        encoding="utf-8",
    )


def page_requests(net_log: Path) -> list[str]:
    """The URLs the page itself asked for (the browser's own requests have no origin)."""
    log = json.loads(net_log.read_text(encoding="utf-8"))
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    return [
        e["params"]["url"]
        for e in log["events"]
        if e["type"] == start
        and "url" in e["params"]
        and e["params"].get("initiator") != "not an origin"
    ]


def test_the_pages_render_in_chromium_and_ask_for_nothing(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    review, system = tmp_path / "review.html", tmp_path / "system.html"
    code, _, err = run_cli(
        ["plan", SAMPLE, "-m", MAPPING, "--ledger", str(tmp_path / "l.db"), "--html", str(review)],
        capsys,
    )
    assert code == 0, err
    code, _, err = run_cli(["mapping", "explain", MAPPING, "--html", str(system)], capsys)
    assert code == 0, err
    source = review.read_text(encoding="utf-8")
    slipped = system.read_text(encoding="utf-8").replace("<body>", "<body>" + LEAK)
    without = slipped.replace('<meta http-equiv="Content-Security-Policy"', '<meta name="x"')
    assert without != slipped
    control = tmp_path / "control.html"  # no policy: its image is fetched, and its frames'
    control.write_text(  # but for the one with bokfor's policy
        f"<!DOCTYPE html><html><body>{LEAK.replace('NAME', 'seen')}"
        f'<iframe srcdoc="{escape(slipped.replace("NAME", "blocked"))}"></iframe>'
        f'<iframe srcdoc="{escape(without.replace("NAME", "framed"))}"></iframe></body></html>',
        encoding="utf-8",
    )
    shot = artefacts() / "review-stripe.png"
    shot.unlink(missing_ok=True)
    browsers = [
        browse(review, tmp_path, f"--screenshot={shot}", "--window-size=1000,3000"),
        browse(control, tmp_path),
    ]
    doms = [b.communicate(timeout=90)[0] for b in browsers]
    assert [b.returncode for b in browsers] == [0, 0]

    # The review page as the browser built it: every verifikation, the sums per account.
    rendered, written = Page(doms[0]), Page(source)
    assert len(rendered.sections) == 29
    assert [a for a, _ in rendered.sections] == [a for a, _ in written.sections]
    assert rendered.rows == written.rows
    assert rendered.totals == written.totals and len(rendered.totals) == 7
    assert len([t for t, _ in rendered.tags if t == "svg"]) == 2
    assert page_requests(tmp_path / "review.net.json") == []

    # A page's request is seen (the check can fail); bokfor's policy blocks one.
    assert sorted(page_requests(tmp_path / "control.net.json")) == [
        "http://127.0.0.1:9/framed.png",
        "http://127.0.0.1:9/seen.png",
    ]

    data = shot.read_bytes()  # a PNG of the page's width, kept for a person to look at
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(data[16:20], "big") == 1000
    assert len(data) > 50_000


def test_the_underlag_renders_in_chromium_asks_for_nothing_and_prints(capsys, tmp_path):
    """The underlag of the Stripe sample's export: every verifikation with its rows as the
    browser builds the page, no request, a screenshot kept, and `--pdf` printing it."""
    ledger, out = tmp_path / "l.db", tmp_path / "s.si"
    args = ["-m", str(REPO / MAPPING), "--ledger", str(ledger)]
    code, _, err = run_cli(["convert", str(REPO / SAMPLE), *args, "-o", str(out), "-q"], capsys)
    assert code == 0, err
    page, pdf = tmp_path / "underlag.html", tmp_path / "underlag.pdf"
    code, _, err = run_cli(["underlag", *args, "-o", str(page), "--pdf", str(pdf)], capsys)
    assert code == 0, err
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 10_000
    shot = artefacts() / "underlag-stripe.png"
    shot.unlink(missing_ok=True)
    browser = browse(page, tmp_path, f"--screenshot={shot}", "--window-size=1000,3000")
    dom = browser.communicate(timeout=90)[0]
    assert browser.returncode == 0
    assert dom.count('<section class="voucher"') == 29
    assert dom.count("Raderna summerar exakt till verifikationen.") == 29
    assert dom.count("stripe:txn_") >= 36
    assert page_requests(tmp_path / "underlag.net.json") == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
