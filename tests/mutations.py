"""Hypothesis mutations of a real file, shared by the parsers' property tests: flip a byte to
one of the format's meaningful characters, delete or insert one, or cut the file."""

from __future__ import annotations

from hypothesis import strategies as st


def mutate(data: st.DataObject, sample: bytes, alphabet: bytes) -> bytes:
    raw = bytearray(sample)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        choice = data.draw(st.sampled_from(["flip", "delete", "insert", "cut"]))
        if choice == "flip":
            raw[i] = data.draw(st.sampled_from(list(alphabet)))
        elif choice == "delete":
            del raw[i]
        elif choice == "insert":
            raw.insert(i, data.draw(st.integers(0, 255)))
        else:
            del raw[i:]
        if not raw:
            break
    return bytes(raw)
