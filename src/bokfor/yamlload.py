"""Load YAML keeping the line of every key and value, with every scalar kept as text.

Why not `yaml.safe_load`: it forgets line numbers (an error must say `file:line`), silently
keeps the last of two equal keys, and guesses types — `NO` (Norway) becomes False, `99.50`
becomes a float, `0800` an octal number. Here every scalar stays the string the user wrote
(only an empty value, `~` or `null` is None); the mapping's pydantic models convert types
where a field asks for them, and amounts are parsed exactly by `money.parse_amount`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bokfor.errors import MappingError

Path_ = tuple[str, ...]
_NULLS = {"", "~", "null", "Null", "NULL"}


def load(path: Path) -> tuple[Any, dict[Path_, int]]:
    """Return (data, positions); positions maps a key path (all parts str) to its 1-based line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise MappingError("mapping file not found", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"mapping is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            file=str(path),
            hint="save the file as UTF-8.",
        ) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise MappingError(
            f"YAML syntax error: {problem}",
            file=str(path),
            line=mark.line + 1 if mark else None,
            hint="check indentation and quoting around this line.",
        ) from None
    if node is None:
        raise MappingError("mapping file is empty", file=str(path),
                           hint="run `bokfor init` for a starter mapping.")
    positions: dict[Path_, int] = {}
    return _convert(node, (), positions, str(path)), positions


def _convert(node: yaml.Node, path: Path_, positions: dict[Path_, int], file: str) -> Any:
    positions.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        if node.style is None and node.value in _NULLS:
            return None
        return node.value
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, str(i)), positions, file) for i, item in enumerate(node.value)
        ]
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise MappingError("a key must be a plain value", file=file,
                                   line=key_node.start_mark.line + 1)
            key = key_node.value
            if key == "<<":
                raise MappingError("YAML merge keys (<<) are not supported", file=file,
                                   line=key_node.start_mark.line + 1,
                                   hint="write the keys out in full.")
            if key in result:
                first = positions[(*path, key)]
                raise MappingError(
                    f"key {key!r} appears twice (first at line {first})",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    key=".".join((*path, key)),
                    hint="keep one of them: YAML would silently use only the last.",
                )
            positions[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(value_node, (*path, key), positions, file)
        return result
    raise MappingError(f"unsupported YAML node at {'.'.join(path)}", file=file)


def line_of(positions: dict[Path_, int], path: tuple[Any, ...]) -> int | None:
    """The line of `path`, or of its nearest ancestor that has one."""
    parts = tuple(str(p) for p in path)
    while parts:
        if parts in positions:
            return positions[parts]
        parts = parts[:-1]
    return positions.get(())


def dotted(path: tuple[Any, ...]) -> str:
    """`sources.stripe_balance.rules[2].post[0].account` (list indexes are ints in `path`)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
