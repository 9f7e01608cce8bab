"""Text templates for voucher and row texts: `"Stripe {type} {id}"`.

Deliberately smaller than str.format: placeholders are field names only (dots allowed, as
in `{metadata.order_id}`), `{{` and `}}` are literal braces. The set of names is known at
load time, so a mapping that uses a field its source does not have fails `mapping check`
instead of a run.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Callable

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][\w.]*)\}|[{}]")


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    source: str
    parts: tuple[str | tuple[str], ...]  # literal text, or (field name,)
    constant: str | None = None  # the text itself when there are no placeholders

    @classmethod
    def parse(cls, text: str) -> "Template":
        parts: list[str | tuple[str]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            if m.start() > pos:
                parts.append(text[pos : m.start()])
            token = m.group(0)
            if token in ("{{", "}}"):
                parts.append(token[0])
            elif m.group(1):
                parts.append((m.group(1),))
            else:
                raise TemplateError(
                    f"unmatched {token!r} at position {m.start() + 1} in {text!r}"
                    " (write {{ or }} for a literal brace)"
                )
            pos = m.end()
        if pos < len(text):
            parts.append(text[pos:])
        constant = None if any(isinstance(p, tuple) for p in parts) else "".join(parts)  # type: ignore[arg-type]
        return cls(text, tuple(parts), constant)

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p[0] for p in self.parts if isinstance(p, tuple))

    def render(self, get: Callable[[str], object]) -> str:
        shape, names = self._compiled
        return shape(*[_text(get(name)) for name in names])

    @cached_property
    def _compiled(self) -> tuple[Callable[..., str], tuple[str, ...]]:
        """The template as one str.format call: a text a row, for every row of a run."""
        shape = "".join(
            p.replace("{", "{{").replace("}", "}}") if isinstance(p, str) else "{}"
            for p in self.parts
        )
        return shape.format, self.fields


def _text(value: object) -> str:
    if value is None:
        return ""
    if type(value) is str:
        return value
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)
