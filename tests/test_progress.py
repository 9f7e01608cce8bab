"""The progress shown while a long input is read: told every 16,384 rows, on a terminal only."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from bokfor.ledger import Ledger
from bokfor.mapping import load_mapping
from bokfor.plan import make_plan

from .test_errors import run_cli

REPO = Path(__file__).parent.parent
MAPPING = REPO / "bench" / "mappings" / "peers.yaml"


def peers_file(tmp_path: Path, rows: int) -> Path:
    path = tmp_path / "peers.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("date;text;amount\n")
        for i in range(rows):
            f.write(f"2026-03-{1 + i % 28:02d};KORTKOP ICA {i};-{1 + i % 900},{i % 100:02d}\n")
    return path


def test_the_plan_tells_progress_every_16384_rows(tmp_path: Path) -> None:
    path = peers_file(tmp_path, 40_000)
    told: list[tuple[str, int]] = []
    plan = make_plan(
        [path],
        load_mapping(MAPPING),
        Ledger.open(tmp_path / "l.sqlite"),
        progress=lambda p, n: told.append((p, n)),
    )
    assert told == [(str(path), 16_384), (str(path), 32_768)]
    assert len(plan.to_write) == 40_000


def test_a_terminal_sees_the_rows_read_and_a_pipe_does_not(
    tmp_path: Path, capsys, monkeypatch
) -> None:
    """Told every 1,024 rows here, not 16,384 (the cadence is the test above's): two plans
    of 20,000 rows cost 4 s."""
    import bokfor.cli
    import bokfor.plan

    monkeypatch.setattr(bokfor.plan, "_EVERY", 2**10 - 1)
    path = peers_file(tmp_path, 1_500)
    args = ["plan", str(path), "-m", str(MAPPING), "--ledger", str(tmp_path / "l.sqlite")]
    code, _, err = run_cli(args, capsys)
    assert code == 0 and "reading" not in err  # not a terminal: nothing
    screen = io.StringIO()
    monkeypatch.setattr(bokfor.cli, "err", Console(file=screen, force_terminal=True, width=400))
    assert run_cli(args, capsys)[0] == 0
    assert f"reading {path}: 1,024 rows" in screen.getvalue()
