"""`bokfor init`, `mapping check` and `mapping schema` as a user runs them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import yaml

from .test_errors import run_cli

REPO = Path(__file__).parent.parent


class Yaml12Loader(yaml.SafeLoader):
    """Reads booleans as YAML 1.2 does (only true/false), like editors' YAML servers; PyYAML's
    YAML 1.1 would turn the country code NO into False."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf")
)


def editor_read(path: Path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Yaml12Loader)


def test_init_writes_a_starter_that_passes_the_check(tmp_path, capsys):
    target = tmp_path / "bokfor.yaml"
    code, out, err = run_cli(["init", str(target)], capsys)
    assert code == 0, err
    assert f"Wrote {target}" in out
    code, out, err = run_cli(["mapping", "check", str(target)], capsys)
    assert code == 0, err
    assert out.startswith(f"{target}: OK — Mitt Företag AB, 1 source(s), 4 rule(s)")


def test_init_refuses_to_overwrite(tmp_path, capsys):
    target = tmp_path / "bokfor.yaml"
    target.write_text("mine\n", encoding="utf-8")
    code, _, err = run_cli(["init", str(target)], capsys)
    assert (code, err) == (
        2,
        f"bokfor: error: {target} already exists Fix: choose another path or add --force.\n",
    )
    assert target.read_text(encoding="utf-8") == "mine\n"


def test_schema_accepts_the_shipped_mappings_as_an_editor_reads_them(capsys):
    code, out, _ = run_cli(["mapping", "schema"], capsys)
    assert code == 0
    schema = json.loads(out)
    validator = jsonschema.Draft202012Validator(schema)
    for path in (REPO / "mappings" / "stripe.yaml", REPO / "src" / "bokfor" / "starter.yaml"):
        document = editor_read(path)  # 1580 is an int here, as in an editor
        assert [e.message for e in validator.iter_errors(document)] == [], path


def test_schema_rejects_an_unknown_key(capsys):
    _, out, _ = run_cli(["mapping", "schema"], capsys)
    document = editor_read(REPO / "mappings" / "stripe.yaml")
    document["defaults"]["serie"] = "S"
    errors = list(jsonschema.Draft202012Validator(json.loads(out)).iter_errors(document))
    assert ["Additional properties are not allowed ('serie' was unexpected)"] == [
        e.message for e in errors
    ]
