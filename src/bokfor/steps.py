"""The steps of one convert, in one place: `bokfor convert` (cli) and `bokfor run`
(bokfor.nightly) both go through `carry_out`, so a run of a client folder books exactly what
`convert` would book from the same files.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from bokfor.domain import Caution, Notice

if TYPE_CHECKING:  # bokfor.push and Fortnox's client are imported when Fortnox is called
    from bokfor.fortnox.client import FortnoxClient

Warn = Callable[[list[Notice]], None]


def strict_check(notices: list[Notice], strict: bool, warn: Warn) -> None:
    """`--strict`: the other warnings, then the backwards postings, then the cautions (rows
    that may be booked twice or lost), each kind as one error; without it all are warnings."""
    if strict:
        from bokfor.plan import refuse_cautions
        from bokfor.plausibility import refuse

        warn([n for n in notices if not isinstance(n, Caution)])
        refuse(notices)
        refuse_cautions(notices)
    else:
        warn(notices)


@dataclass
class Outcome:
    """What a convert did: the plan (as written, when another run made it plan again),
    whether it found nothing new, and the files written with their export ids."""

    plan: Any  # bokfor.plan.Plan
    nothing_new: bool = False
    export_ids: list[int] = field(default_factory=list)
    targets: list[Path] = field(default_factory=list)


def carry_out(
    job: Any,
    out: Optional[str],
    *,
    strict: bool,
    warn: Warn,
    shown: Optional[Callable[[Any], None]] = None,
    exported: bool = False,
    refuse: Callable[[list[Notice], bool, Warn], None] = strict_check,
) -> Outcome:
    """Plan `job` (a bokfor.convert.Job), refuse what must not be written, and write it to
    the `out` template; `out` None only checks (a dry run). `shown` sees the plan before it
    is checked (the preview); `refuse` is the --strict step."""
    plan, state = job.plan(exported=exported)
    refuse(job.notices + plan.notices, strict, warn)
    if shown is not None:
        shown(plan)
    checked = job.check(plan)
    if checked is None:
        if out is not None:
            job.learn(plan)
        return Outcome(plan, nothing_new=True)
    rendered, notices = checked
    warn(notices)
    if out is None:
        return Outcome(plan)
    job.check_targets(job.targets(plan, out, None), None)
    job.notices.clear()
    written = job.write(plan, state, rendered, out)
    warn(job.notices)
    if written is None:
        return Outcome(plan, nothing_new=True)
    plan, export_ids, targets = written
    return Outcome(plan, export_ids=export_ids, targets=targets)


def wire(job: Any, books: Path | None, token_file: Path | None) -> LazyClient:
    """Wire Fortnox into a job: settling interrupted pushes, and `--books fortnox`. The
    client (and so the credentials) is made only when one of them needs it, and first
    checked to open the mapping's company's books. bokfor.push is imported then too: a run
    that never calls Fortnox does not import it and its HTTP client (issue 22)."""

    def make() -> FortnoxClient:
        from bokfor.push import make_client

        return make_client(token_file)

    def check(api: FortnoxClient) -> Any:
        from bokfor.push import check_company

        return check_company(api, job.mapping.company, job.mapping_path)

    def settle(ledger: Any) -> list[Notice]:
        from bokfor.push import settle

        return settle(ledger, client)

    def books_loader(plan: Any) -> Any:
        from bokfor.push import fortnox_books

        return fortnox_books(client(), plan)

    client = LazyClient(make, check)
    job.settle = settle
    if books is not None and str(books) == "fortnox":
        job.books = None
        job.books_loader = books_loader
    return client


class LazyClient:
    """Makes the client (reads credentials) only when Fortnox is really needed, and runs
    `check` on it (the company: `check_company`) before anyone else uses it."""

    def __init__(
        self,
        factory: Callable[[], FortnoxClient],
        check: Callable[[FortnoxClient], Any] | None = None,
    ) -> None:
        self._factory = factory
        self._check = check
        self._client: FortnoxClient | None = None
        self._checked: FortnoxClient | None = None

    def __call__(self) -> FortnoxClient:
        if self._client is None:
            self._client = self._factory()
        if self._checked is None:
            if self._check is not None:
                self._check(self._client)
            self._checked = self._client
        return self._checked

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
