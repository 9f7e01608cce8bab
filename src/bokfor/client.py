"""A client folder: one company's config (`bokfor.yaml`), mapping, inbox, outputs, ledger and
the folders its files are filed in. `bokfor run` books what arrives in the inbox
(bokfor.nightly); `bokfor init --client DIR --kind KIND` makes a folder. See docs/clients.md.

Every path in `bokfor.yaml` is relative to the folder, so a folder can be moved or backed up
whole, and the ledger lives in it (never in the installed package or a checkout).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, ValidationError

from bokfor.errors import InputError, MappingError, OutputError, UsageError
from bokfor.fileio import atomic_write, fsync_dir, read_head
from bokfor.yamlload import dotted, line_of, load

CONFIG = "bokfor.yaml"
KINDS = ("stripe", "bank", "pos")
FOLDERS = ("inbox", "out", "archive", "rejected", "reports")
# A run's review page goes beside its first file, by its name with this suffix
# (`review_page`): an `out` ending in it would be that file's own name.
REVIEW_SUFFIX = ".html"


class ClientConfig(BaseModel):
    """`bokfor.yaml`: every key but `mapping` may be left out."""

    # Built on first use: `convert` imports this module for expand_inputs (issue 22).
    model_config = ConfigDict(extra="forbid", defer_build=True)

    client: Optional[str] = None  # display name; default: the folder's name
    mapping: str
    inbox: str = "inbox"
    out: Optional[str] = None  # an --out template; default out/{source}-{run}.si (or a dir)
    ledger: str = "ledger.sqlite"
    action: Literal["convert", "push"] = "convert"
    format: Literal["sie", "fortnox"] = "sie"
    token_file: Optional[str] = None
    strict: bool = True
    archive: str = "archive"
    rejected: str = "rejected"
    bank_account: Optional[str] = None


@dataclass(frozen=True)
class Client:
    """A loaded client folder, its paths absolute."""

    folder: Path
    name: str
    mapping: Path
    inbox: Path
    out: str
    ledger: Path
    action: str
    format: str
    token_file: Path | None
    strict: bool
    archive: Path
    rejected: Path
    reports: Path
    bank_account: str | None

    def folders(self) -> tuple[tuple[str, Path], ...]:
        """The folders a run writes in, named; the out folder only when the --out template
        does not make it per run."""
        out = Path(self.out).parent
        return (
            *((("out", out),) if "{" not in str(out) else ()),
            ("archive", self.archive),
            ("rejected", self.rejected),
            ("reports", self.reports),
        )


def load_client(folder: Path) -> Client:
    """Read and check `folder/bokfor.yaml`; errors name its file:line and key."""
    from bokfor.mapping import _structure_error
    from bokfor.outputs import fields_of

    path = folder / CONFIG
    if not folder.is_dir():
        raise UsageError(
            f"{folder} is not a directory",
            hint="give client folders (each "
            "with a bokfor.yaml); `bokfor init --client DIR` makes one.",
        )
    if not path.exists():
        raise UsageError(
            f"{folder} is not a client folder: it has no {CONFIG}",
            hint=f"`bokfor init --client {folder} --kind stripe|bank|pos` "
            "makes one (docs/clients.md).",
        )
    data, positions = load(path, f"the client config ({CONFIG})")

    def fail(message: str, loc: tuple[Any, ...], hint: str | None = None) -> MappingError:
        return MappingError(
            message,
            file=str(path),
            line=line_of(positions, loc),
            key=dotted(loc) or None,
            hint=hint,
        )

    if not isinstance(data, dict):
        raise fail(f"{CONFIG} must be a YAML mapping (key: value lines)", ())
    if "company" in data and "mapping" not in data:  # `bokfor init` once wrote mappings here
        raise fail(
            f"{CONFIG} holds a mapping, not a client folder's config",
            ("company",),
            f"rename it to mapping.yaml and write a {CONFIG} naming it (`mapping: "
            "mapping.yaml`), or make the folder with `bokfor init --client DIR`.",
        )
    try:
        cfg = ClientConfig.model_validate(data)
    except ValidationError as exc:
        raise _structure_error(exc, fail, ClientConfig) from None
    out = cfg.out or ("out/{source}-{run}" if cfg.format == "fortnox" else "out/{source}-{run}.si")
    try:
        fields_of(out)
    except UsageError as exc:
        raise fail(exc.message.replace("--out ", "", 1), ("out",), exc.hint) from None
    if Path(out).suffix.lower() == REVIEW_SUFFIX:
        raise fail(
            f"{out!r} ends in {REVIEW_SUFFIX}: the run's review page, written beside the "
            f"run's file by its name with {REVIEW_SUFFIX}, would replace that file",
            ("out",),
            "end it in .si (`out: out/{source}-{run}.si`), or leave `out` out.",
        )
    if cfg.action == "push" and cfg.format != "sie":
        raise fail(
            "format: fortnox writes a batch to import; action: push posts to the API itself",
            ("format",),
            "leave `format` out with `action: push`.",
        )
    folder = folder.absolute()
    mapping = folder / cfg.mapping
    if not mapping.exists():
        raise fail(
            f"the mapping {mapping} does not exist",
            ("mapping",),
            "name the mapping file, relative to the client folder.",
        )
    client = Client(
        folder=folder,
        name=cfg.client or folder.name,
        mapping=mapping,
        inbox=folder / cfg.inbox,
        out=str(folder / out),
        ledger=folder / cfg.ledger,
        action=cfg.action,
        format=cfg.format,
        token_file=folder / cfg.token_file if cfg.token_file else None,
        strict=cfg.strict,
        archive=folder / cfg.archive,
        rejected=folder / cfg.rejected,
        reports=folder / "reports",
        bank_account=cfg.bank_account,
    )
    clash = _inbox_clash(client, path)
    if clash:
        raise fail(
            f"the inbox {client.inbox} is {clash}: every file in the inbox is booked, then "
            "filed away or rejected",
            ("inbox",),
            "give the inbox a folder of its own (`inbox: inbox`).",
        )
    return client


def review_page(first: Path) -> Path:
    """Where a run's review page goes: beside the first file it wrote, by its name with
    .html (`out/stripe_balance-7.si` -> `out/stripe_balance-7.html`)."""
    if first.suffix:
        return first.with_name(first.stem + REVIEW_SUFFIX)
    return first.with_name(first.name + REVIEW_SUFFIX)


def _inbox_clash(client: Client, config: Path) -> str | None:
    """What of the client's own the inbox holds or is (its config, mapping, ledger or token
    file; its out, archive, rejected or reports folder), or None. A run moves every file
    of the inbox: with the ledger among them, the next run would find it gone and book
    everything again."""
    inbox = os.path.realpath(client.inbox)
    files = (
        (config, "bokfor.yaml's folder"),
        (client.mapping, "the mapping's folder"),
        (client.ledger, "the ledger's folder"),
        (client.token_file, "the token file's folder"),
    )
    for file, what in files:
        if file is not None and os.path.realpath(file.parent) == inbox:
            return what
    for name, folder in client.folders():
        if os.path.realpath(folder) == inbox:
            return f"the {name} folder"
    return _other_client(inbox, os.path.realpath(client.folder))


def _other_client(inbox: str, own: str) -> str | None:
    """Another client folder (one holding a bokfor.yaml) the inbox is, is inside or holds
    (this client's folder too, when the inbox holds it), or None: `inbox: ../c2`, a typo
    for ../c2-inbox, would file c2's ledger, mapping and bokfor.yaml away."""
    if os.path.isfile(os.path.join(inbox, CONFIG)):
        return f"the client folder {inbox}"
    for parent in Path(inbox).parents:
        if str(parent) == own:
            break  # a folder in this client's own: what is above is no other client's
        if (parent / CONFIG).is_file():
            return f"inside the client folder {parent}"
    if Path(own).is_relative_to(inbox):
        return f"a folder holding the client folder {own}"
    try:
        with os.scandir(inbox) as entries:
            for entry in entries:
                if entry.is_dir() and os.path.isfile(os.path.join(entry.path, CONFIG)):
                    return f"a folder holding the client folder {entry.path}"
    except OSError:
        pass  # an inbox that cannot be read: the run says so
    return None


def never_filed(path: Path, ledger: Path) -> str | None:
    """What `path`, a file in the inbox, is if it is one a run must never file away, or
    None: a client's config; an export ledger (an SQLite file with bokfor's application id,
    or named as this client's ledger or a file SQLite or its lock keeps beside it); a
    mapping (YAML: bokfor reads no inputs in YAML, and a mapping's top level names its
    company). Moved to rejected/, it would be a client's books gone from where it looks."""
    from bokfor.ledger import SIDE_FILES, is_ledger

    if path.name == CONFIG:
        return f"a client folder's config ({CONFIG})"
    if is_ledger(path):
        return "an export ledger (an SQLite file with bokfor's application id)"
    if path.name in {ledger.name, *(ledger.name + suffix for suffix, _ in SIDE_FILES)}:
        return f"named as the client's export ledger or a file beside it ({ledger.name})"
    if path.suffix.lower() in (".yaml", ".yml") or _names_a_company(path):
        return "a mapping or a client's config (YAML)"
    return None


def _names_a_company(path: Path) -> bool:
    """Whether the file's first lines hold a mapping's top-level `company:` key."""
    head = read_head(path, 8192)
    return head is not None and any(line.rstrip() == b"company:" for line in head.splitlines())


# Names a download or an editor leaves while a file is still being written or open.
_TEMP_SUFFIXES = (".tmp", ".temp", ".part", ".partial", ".crdownload", ".download", ".swp", "~")


def is_input_name(name: str) -> bool:
    """Hidden files (`.DS_Store`), Office lock files (`~$x.xlsx`) and half-downloaded ones
    are not inputs: they are skipped, and left where they are."""
    return not (name.startswith((".", "~$")) or name.lower().endswith(_TEMP_SUFFIXES))


def inputs_in(directory: Path, *, follow_links: bool = True) -> list[Path]:
    """The regular files in `directory` that are inputs, sorted by name (a link to a file
    counts as one). `follow_links=False`: every entry that is not a directory — links, FIFOs
    and all — for `run`, which files only what it can move whole."""
    if follow_links:
        return sorted(p for p in directory.iterdir() if is_input_name(p.name) and p.is_file())
    return sorted(
        p
        for p in directory.iterdir()
        if is_input_name(p.name) and not stat.S_ISDIR(p.lstat().st_mode)
    )


def expand_inputs(paths: list[Path]) -> list[Path]:
    """`convert DIR`: a directory given as an input stands for the input files in it."""
    out: list[Path] = []
    for path in paths:
        try:
            os.stat(path)
        except FileNotFoundError:
            pass  # the reader says so, naming the file
        except OSError as exc:  # a link loop, a name too long, a folder it may not enter
            raise InputError(
                f"the input cannot be read: {exc.strerror}",
                file=str(path),
                hint="give the path of an export file, or of a folder holding them.",
            ) from None
        if path.is_dir():
            found = inputs_in(path)
            if not found:
                raise UsageError(
                    f"{path} holds no input files",
                    hint="give the export files, or a directory holding them.",
                )
            out += found
        else:
            out.append(path)
    return out


def move_new(path: Path, directory: Path) -> Path:
    """Move `path` into `directory` under its name, or with `-2`, `-3` … before its suffix
    when that name is taken: a filed file is never written over. A directory that cannot
    be made or written (a file in its place, no permission) is OutputError: the file stays
    where it is."""
    try:
        return _move_new(path, directory)
    except OSError as exc:
        raise OutputError(
            f"cannot file it in {directory}: {exc.strerror}",
            file=str(path),
            hint=f"make {directory} a folder this user may write; the file stays where it "
            "is, and the export ledger keeps what was booked from being booked again.",
        ) from None


def _move_new(path: Path, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem, suffix = (path.stem, path.suffix) if not path.name.startswith(".") else (path.name, "")
    n = 1
    while True:
        target = directory / (path.name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            os.link(path, target)  # fails if the name is taken: never replaces a file
        except FileExistsError:
            n += 1
            continue
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP):
                raise
            try:  # another file system, or one without hard links: copy to a new name
                with open(path, "rb") as src, open(target, "xb") as dst:
                    shutil.copyfileobj(src, dst)
                    dst.flush()
                    os.fsync(dst.fileno())
            except FileExistsError:
                n += 1
                continue
        path.unlink()
        fsync_dir(directory)
        return target


def write_new(directory: Path, name: str, data: bytes) -> Path:
    """Write a new file in `directory` named `name`, or `-2`, `-3` … before its suffix; a
    directory that cannot be made or written is OutputError."""
    try:
        return _write_new(directory, name, data)
    except OSError as exc:
        raise OutputError(
            f"cannot write {name} in {directory}: {exc.strerror}",
            file=str(directory / name),
            hint=f"make {directory} a folder this user may write.",
        ) from None


def _write_new(directory: Path, name: str, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stem, suffix = os.path.splitext(name)
    n = 1
    while True:
        target = directory / (name if n == 1 else f"{stem}-{n}{suffix}")
        try:
            with open(target, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            return target
        except FileExistsError:
            n += 1


CONFIG_TEXT = """\
# A bokfor client folder: `bokfor run {folder}` books what arrives in inbox/ (docs/clients.md).
# Paths are relative to this folder. Only `mapping` is required.
client: {name}{pad}# the name in the run summary (default: the folder's name)
mapping: mapping.yaml{pad2}# edit it, then: bokfor mapping check {folder}/mapping.yaml
# inbox: inbox                   # where the files to book arrive
# out: out/{{source}}-{{run}}.si     # an --out template: {{run}} {{from}} {{to}} {{year}} {{source}}
# ledger: ledger.sqlite          # what was exported: keep it (and back it up) with the books
# action: convert                # convert (write SIE files) or push (post to Fortnox)
# format: sie                    # sie, or fortnox (a batch directory for Fortnox's import)
# token_file: fortnox.json       # push: Fortnox credentials (bokfor fortnox login --token-file)
# strict: true                   # a doubt or a backwards posting stops the client (exit 2)
# archive: archive               # files booked or already booked, by date: archive/2026-01-31/
# rejected: rejected             # files bokfor cannot use, each with <name>.why.txt
# bank_account: seb              # the bank account of bank files that name none
"""


def starter_text(kind: str | None) -> bytes:
    """The starter mapping of `kind` (the example mapping of that kind, shipped in the
    package), or the generic commented starter."""
    if kind is not None and kind not in KINDS:
        raise UsageError(
            f"--kind {kind!r} is not one of {', '.join(KINDS)}",
            hint="stripe for Stripe exports, bank for bank files, pos for cash "
            "registers' day closes (Z-dagrapporter, Zettle).",
        )
    name = f"starters/{kind}.yaml" if kind else "starter.yaml"
    return resources.files("bokfor").joinpath(name).read_bytes()


def init_client(folder: Path, kind: str | None, *, force: bool = False) -> list[Path]:
    """Make a client folder: bokfor.yaml, the starter mapping and the empty folders. An
    existing bokfor.yaml or mapping is kept unless `force`."""
    config, mapping = folder / CONFIG, folder / "mapping.yaml"
    for path in (config, mapping):
        if path.exists() and not force:
            raise UsageError(
                f"{path} already exists",
                hint="choose another folder or add "
                "--force (it replaces bokfor.yaml and mapping.yaml only).",
            )
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{folder} is a file, not a folder", hint="name a new folder.")
    text = starter_text(kind)
    _make_folder(folder)
    name = folder.resolve().name
    shown = _yaml_scalar(name)
    atomic_write(
        config,
        CONFIG_TEXT.format(
            folder=folder, name=shown, pad=" " * max(1, 25 - len(shown)), pad2=" " * 12
        ).encode("utf-8"),
    )
    atomic_write(mapping, text)
    for sub in FOLDERS:
        _make_folder(folder / sub)
    return [config, mapping]


def _make_folder(folder: Path) -> None:
    """`folder` and its parents made, or OutputError as atomic_write says it of a file."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot write here: {exc.strerror}", file=str(folder)) from None


def _yaml_scalar(text: str) -> str:
    """`text` as a YAML value that reads back as itself."""
    plain = (
        text
        and text[0].isalnum()
        and all(c.isalnum() or c in " -_." for c in text)
        and text == text.strip()
    )
    return text if plain else '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
