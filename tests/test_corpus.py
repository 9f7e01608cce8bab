"""Real files from the wild (../shared/corpus): each is detected by content and converted
with a mapping written for it, the written SIE strict-valid, its voucher count as expected
and its bank or clearing account's total equal to the file's own total computed from the
raw bytes; or it is refused with its expected one-line message. The case files, mappings
and recipes are in tests/corpus/ (schema: tests/corpus/harness.py). Skips when
../shared/corpus is absent (a fresh clone has none).

    .venv/bin/python bench/corpus.py      # the same, as a table
"""

from __future__ import annotations

import pytest

from tests.corpus import harness

FILES = harness.manifest() if harness.available() else []
needs_corpus = pytest.mark.skipif(not harness.available(),
                                  reason=f"no corpus at {harness.CORPUS}")


@needs_corpus
@pytest.mark.parametrize(("name", "digest"), FILES or [("(no corpus)", "")],
                         ids=[name for name, _ in FILES] or ["no-corpus"])
def test_corpus_file(name: str, digest: str) -> None:
    if harness.load_case(name) is None and harness.partial():
        pytest.skip(f"case file not yet written ({harness.PARTIAL}=1)")
    outcome = harness.run(name, digest)
    assert outcome.ok, f"{name}:\n" + "\n".join(outcome.problems)


@needs_corpus
def test_every_case_names_a_corpus_file() -> None:
    """A case file whose corpus file is gone (renamed, removed) is stale."""
    names = {harness.case_file(name).name for name, _ in FILES}
    stale = sorted(p.name for p in harness.CASES.glob("*.yaml") if p.name not in names)
    assert not stale, f"case files for no corpus file: {stale}"


def test_every_mapping_is_used() -> None:
    """Each mapping in tests/corpus/mappings/ is some case's (no dead copies)."""
    used = {str((harness.load_case_file(p) or {}).get("mapping"))
            for p in harness.CASES.glob("*.yaml")}
    unused = sorted(p.name for p in harness.MAPPINGS.glob("*.yaml") if p.name not in used)
    assert not unused, f"mappings no case uses: {unused}"
