"""Staged output: written once to a scratch file with its digest, then copied into place."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from bokfor.errors import OutputError
from bokfor.fileio import atomic_write, stage

DATA = b"#FLAGGA 0\r\n" + bytes(range(256)) * 5000  # 1.3 MB: more than one copy block


def test_stage_records_digest_and_size_and_atomic_write_copies_it(tmp_path: Path) -> None:
    def produce(out) -> str:  # type: ignore[no-untyped-def]
        for i in range(0, len(DATA), 4096):
            out.write(DATA[i : i + 4096])
        return "done"

    staged, result = stage(tmp_path / "scratch.si", produce)
    assert result == "done"
    assert (staged.sha256, staged.size) == (hashlib.sha256(DATA).hexdigest(), len(DATA))
    target = tmp_path / "out" / "file.si"
    atomic_write(target, staged)
    assert target.read_bytes() == DATA
    assert staged.path.read_bytes() == DATA  # copied, not moved: the plan removes it
    assert [p.name for p in target.parent.iterdir()] == ["file.si"]  # no temp file left


def test_stage_removes_the_scratch_file_when_producing_fails(tmp_path: Path) -> None:
    def produce(out) -> None:  # type: ignore[no-untyped-def]
        out.write(b"half a file")
        raise ValueError("a text fault found while writing")

    with pytest.raises(ValueError):
        stage(tmp_path / "scratch.si", produce)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_a_full_scratch_disk_is_an_output_error_naming_the_file(tmp_path: Path) -> None:
    link = tmp_path / "scratch.si"
    link.symlink_to("/dev/full")

    with pytest.raises(OutputError) as caught:
        stage(link, lambda out: out.write(b"x" * (1 << 20)))
    assert caught.value.file == str(link)
    assert "cannot write the scratch file: No space left on device" in str(caught.value)
    assert "TMPDIR" in (caught.value.hint or "")
