"""Load YAML keeping the line of every key and value, with every scalar kept as text.

Why not `yaml.safe_load`: it forgets line numbers (an error must say `file:line`), silently
keeps the last of two equal keys, and guesses types — `NO` (Norway) becomes False, `99.50`
becomes a float, `0800` an octal number. Here every scalar stays the string the user wrote
(only an empty value, `~` or `null` is None); the mapping's pydantic models convert types
where a field asks for them, and amounts are parsed exactly by `money.parse_amount`.

A mapping is read from files of unknown origin (a colleague's, a download), so the loader is
bounded: only a regular file of at most 4 MiB (real ones are a few KiB); nesting at most 64
deep; aliases (`*name`) allowed, as they let rules share a posting list, but at most 1,000 of
them and at most 100,000 values once expanded (a "billion laughs" alias bomb is refused before
it is expanded); an alias inside the node it names (`x: &r [*r]`) is refused with its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from bokfor.errors import MappingError
from bokfor.fileio import read_regular

Path_ = tuple[str, ...]
_NULLS = {"", "~", "null", "Null", "NULL"}
MAX_BYTES = 4 * 2**20
MAX_DEPTH = 64
MAX_ALIASES = 1_000
MAX_VALUES = 100_000  # scalars, lists and mappings, each alias counted as all it expands to


class _Refused(Exception):
    def __init__(self, message: str, mark: Any, hint: str) -> None:
        super().__init__(message)
        self.message, self.mark, self.hint = message, mark, hint


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's composer, measuring as it builds the node graph: the aliases, and for each
    node the values and the depth it expands to (the graph itself stays small; `_convert`
    expands it, so the expansion is refused here, before it happens)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._values = 0
        self._open: list[int] = []  # per node being built: the greatest depth of its children
        self._done: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            target = self.anchors.get(event.anchor)
            if target is not None:  # else PyYAML says "found undefined alias"
                if id(target) not in self._done:  # still being built: it contains itself
                    raise _Refused(
                        f"the alias *{event.anchor} refers to a value that "
                        "contains it (a recursive structure)",
                        event.start_mark,
                        "a value cannot contain itself: write it out.",
                    )
                self._aliases += 1
                if self._aliases > MAX_ALIASES:
                    raise _Refused(
                        f"more than {MAX_ALIASES:,} aliases",
                        event.start_mark,
                        "write the values out; a mapping needs few aliases.",
                    )
                values, depth = self._done[id(target)]
                self._add(values, depth, event)
            return super().compose_node(parent, index)
        if len(self._open) >= MAX_DEPTH:
            raise _Refused(
                f"nested more than {MAX_DEPTH} levels deep",
                self.peek_event().start_mark,
                "a mapping needs a few levels: check the brackets.",
            )
        before = self._values
        self._open.append(0)
        node = super().compose_node(parent, index)
        depth = self._open.pop() + 1
        self._add(1, depth, None)
        self._done[id(node)] = (self._values - before, depth)
        return node

    def _add(self, values: int, depth: int, alias: Any) -> None:
        """Count a node (or an alias's expansion) into its parent."""
        self._values += values
        if self._open:
            self._open[-1] = max(self._open[-1], depth)
        mark = alias.start_mark if alias is not None else self.peek_event().start_mark
        named = f" (with the alias *{alias.anchor})" if alias is not None else ""
        if self._values > MAX_VALUES:
            raise _Refused(
                f"the YAML expands to more than {MAX_VALUES:,} values{named}",
                mark,
                "aliases that name aliases multiply (an alias bomb): write the values out.",
            )
        if len(self._open) + depth > MAX_DEPTH:
            raise _Refused(
                f"the YAML expands to more than {MAX_DEPTH} levels deep{named}",
                mark,
                "aliases that name aliases nest: write the values out.",
            )


def load(path: Path, what: str = "the mapping (YAML)") -> tuple[Any, dict[Path_, int]]:
    """Return (data, positions); positions maps a key path (all parts str) to its 1-based line."""
    data, positions, _ = load_text(path, what)
    return data, positions


def load_text(path: Path, what: str = "the mapping (YAML)") -> tuple[Any, dict[Path_, int], str]:
    """`load`, and the text it read (a run records the mapping it used, as it was read)."""
    data = read_regular(path, what, limit=MAX_BYTES, error=MappingError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"mapping is not UTF-8 (byte {exc.object[exc.start]:#04x} at offset {exc.start})",
            file=str(path),
            hint="save the file as UTF-8.",
        ) from None
    loader = None
    try:
        loader = _BoundedLoader(text)  # reads the text: may raise, on a control character
        node = loader.get_single_node()
    except _Refused as exc:
        raise MappingError(
            exc.message, file=str(path), line=exc.mark.line + 1, hint=exc.hint
        ) from None
    except yaml.YAMLError as exc:
        words, line, hint = in_words(exc, text.splitlines())
        raise MappingError(
            f"YAML syntax error: {words}", file=str(path), line=line, hint=hint
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise MappingError(
            "mapping file is empty", file=str(path), hint="run `bokfor init` for a starter mapping."
        )
    positions: dict[Path_, int] = {}
    return _convert(node, (), positions, str(path)), positions, text


_INDENT = (
    "indentation does not match the line above",
    "indent each key exactly as far as the other keys of its block, and a nested "
    "block further than the key it belongs to (spaces only).",
)
_QUOTE_VALUE = "put the value in quotes: name: 'Lön: oktober'."


def in_words(exc: yaml.YAMLError, lines: list[str]) -> tuple[str, int | None, str]:
    """PyYAML's problem as a sentence, the line it is on and how to fix it: a person reads
    "a tab where YAML needs spaces", not "found character '\\t' that cannot start any
    token". A problem without a sentence of its own gets a general one, never PyYAML's
    parser states."""
    problem = str(getattr(exc, "problem", None) or "")
    context = str(getattr(exc, "context", None) or "")
    mark = getattr(exc, "problem_mark", None)
    start = getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    opened = start.line + 1 if start is not None else None
    text = lines[mark.line] if mark is not None and mark.line < len(lines) else ""
    shown = f" ({text.strip()!r})" if text.strip() else ""
    first = lines[start.line].strip() if start is not None and start.line < len(lines) else ""
    shown_opened = f" ({first!r})" if first else ""
    if "'\\t'" in problem or "tab character" in problem:
        return (
            "a tab where YAML needs spaces",
            line,
            "indent with spaces only: YAML does not allow tabs (set the editor to insert spaces).",
        )
    found = re.search(r"found character '(.)' that cannot start any token", problem)
    if found:
        return (
            f"a value starting with {found.group(1)} needs quotes{shown}",
            line,
            f"write it in quotes: '{found.group(1)}…'.",
        )
    if problem == "mapping values are not allowed here" and mark is not None:
        above = _line_above(lines, mark.line)
        before = text[: mark.column]
        if ": " in before or before.rstrip().endswith(":"):
            return (f"a `:` inside a value needs quotes{shown}", line, _QUOTE_VALUE)
        if (
            above is not None
            and ":" not in lines[above]
            and not lines[above].lstrip().startswith(("-", "#"))
        ):
            return (
                f"a key without `:` ({lines[above].strip()!r})",
                above + 1,
                "write `key: value`, or `key:` with its block on the lines below.",
            )
        if above is not None and _indent(text) > _indent(lines[above]):
            return _INDENT[0] + shown, line, _INDENT[1]
        return (f"a `:` inside a value needs quotes{shown}", line, _QUOTE_VALUE)
    if problem.startswith("expected <block end>, but found '-'"):
        return (
            f"a list item where a key was expected{shown}",
            line,
            "a `- ` item belongs to a key that holds a list (such as `rules:`): indent "
            "it under that key, or write `key: value` here.",
        )
    if problem.startswith("expected <block end>") and "block collection" in context:
        return (
            f"a key where a list item was expected{shown}",
            line,
            "indent the key like the keys of the `- ` item above it, or start a new item "
            "with `- `.",
        )
    if problem.startswith("expected <block end>"):
        return _INDENT[0] + shown, line, _INDENT[1]
    bracket = re.match(r"expected ',' or '([]}])', but got", problem)
    if bracket:
        close = bracket.group(1)
        if opened is not None and line is not None and line > opened:
            return (
                f"a `{'{' if close == '}' else '['}` is not closed{shown_opened}",
                opened,
                f"close it with `{close}` on its line, or write the values on lines of "
                "their own without brackets.",
            )
        return (f"a `:` or `,` inside a value needs quotes{shown}", line, _QUOTE_VALUE)
    if "while scanning a quoted scalar" in context and "end of stream" in problem:
        return (
            f"a quote is not closed{shown_opened}",
            opened,
            "end the value with the quote it starts with.",
        )
    if "unknown escape character" in problem:
        return (
            f"a backslash in double quotes starts an escape, and this one is none{shown}",
            line,
            "write the value in single quotes ('(?i)\\d+'), where a backslash is a "
            "backslash, or double the backslash.",
        )
    alias = re.match(r"found undefined alias '(.*)'", problem)
    if alias:
        return (
            f"*{alias.group(1)} refers to no &{alias.group(1)} above it{shown}",
            line,
            "a value starting with * or & needs quotes; an alias needs its anchor first.",
        )
    if "while scanning an a" in context:  # an anchor or an alias: `& Co`, `*`
        return (
            f"a value starting with & or * needs quotes{shown}",
            opened or line,
            "write it in quotes: '& Co'.",
        )
    if problem == "sequence entries are not allowed here":
        return (
            f"a list item on the line of its key{shown}",
            line,
            "start the `- ` items on the lines below the key, indented.",
        )
    if "single document" in context + problem:
        return (
            "a second YAML document (`---`)",
            line,
            "a mapping is one document: remove the `---` line and what you meant to keep apart.",
        )
    if "duplicate anchor" in context:
        return (f"an anchor is defined twice{shown}", line, "give each anchor its own name.")
    return (
        f"this is not valid YAML{shown}",
        line or opened,
        "check the indentation (spaces), quotes and brackets on this line and the one above.",
    )


def _line_above(lines: list[str], index: int) -> int | None:
    """The nearest line above `index` with content (not blank, not only a comment)."""
    for i in range(index - 1, -1, -1):
        stripped = lines[i].strip()
        if stripped and not stripped.startswith("#"):
            return i
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


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
                raise MappingError(
                    "a key must be a plain value", file=file, line=key_node.start_mark.line + 1
                )
            key = key_node.value
            if key == "<<":
                raise MappingError(
                    "YAML merge keys (<<) are not supported",
                    file=file,
                    line=key_node.start_mark.line + 1,
                    hint="write the keys out in full.",
                )
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
