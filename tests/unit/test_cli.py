"""The CLI: every command has --help, and bad input ends with one line and a non-zero exit."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from contactlens.cli import app
from tests.conftest import cli_error_line

runner = CliRunner()
TAX = {
    "name": "Shop",
    "version": "1",
    "groups": [
        {
            "id": "delivery",
            "name": "Delivery",
            "descriptions": [
                {"id": "late", "name": "Late", "owner": "Distribution"},
                {"id": "lost", "name": "Lost", "owner": "Distribution"},
            ],
        },
    ],
}


def write_tax(path: Path, doc=TAX) -> Path:
    path.write_text(yaml.safe_dump(doc))
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def command_paths():
    import typer.main

    root = typer.main.get_command(app)
    for name, cmd in root.commands.items():
        sub = getattr(cmd, "commands", None)
        if sub:
            yield from ([name, s] for s in sub)
        else:
            yield [name]


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p))
def test_every_command_has_help(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_taxonomy_commands(tmp_path: Path):
    old = write_tax(tmp_path / "old.yaml")
    new_doc = yaml.safe_load(yaml.safe_dump(TAX))
    new_doc["version"] = "2"
    new_doc["groups"][0]["descriptions"][0]["owner"] = "Logistics"
    new_doc["groups"][0]["descriptions"].append({"id": "damaged", "name": "Damaged"})
    new = write_tax(tmp_path / "new.yaml", new_doc)
    r = invoke("taxonomy", "validate", old)
    assert r.exit_code == 0 and "1 groups, 2 descriptions (2 active)" in r.output
    r = invoke("taxonomy", "show", old)
    assert "Delivery [delivery] (2)" in r.output and "Late [late] -> Distribution" in r.output
    r = invoke("taxonomy", "diff", old, new)
    assert "added: damaged" in r.output and "owner changed: late: 'Distribution' -> 'Logistics'" in r.output


def test_taxonomy_duplicate_id_fails_with_one_line(tmp_path: Path):
    doc = yaml.safe_load(yaml.safe_dump(TAX))
    doc["groups"][0]["descriptions"].append({"id": "late", "name": "Again"})
    line = cli_error_line(invoke("taxonomy", "validate", write_tax(tmp_path / "dup.yaml", doc)))
    assert "dup.yaml" in line and "duplicate description id 'late'" in line


def test_taxonomy_init_from_data(tmp_path: Path):
    (tmp_path / "d.csv").write_text("text,category\na,card_arrival\nb,top_up\n")
    r = invoke(
        "taxonomy",
        "init",
        "--from-data",
        tmp_path / "d.csv",
        "--label-col",
        "category",
        "--out",
        tmp_path / "t.yaml",
    )
    assert r.exit_code == 0, r.output
    assert invoke("taxonomy", "validate", tmp_path / "t.yaml").exit_code == 0


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        (b"text,description\nhello,late\nworld,nope\n", ["--taxonomy"], "labels unknown to taxonomy 1"),
        (b"text,category\nhello,late\n", [], "missing column 'description'"),
        (b"text,description\nhello,late\ncaf\xe9,late\n", [], "not UTF-8 text (line 3)"),
        (b"", [], "the file is empty"),
    ],
    ids=["unknown-label", "missing-column", "not-utf8", "empty"],
)
def test_data_check_bad_input(tmp_path: Path, content, args, message):
    path = tmp_path / "d.csv"
    path.write_bytes(content)
    extra = [*args, write_tax(tmp_path / "t.yaml")] if args else []
    line = cli_error_line(invoke("data", "check", path, *extra))
    assert message in line and "d.csv" in line


def test_data_check_leakage_fails(tmp_path: Path):
    (tmp_path / "a.csv").write_text("text,description\nWhere is my parcel,late\nlost it,lost\n")
    (tmp_path / "b.csv").write_text("text,description\nwhere is my parcel?,late\n")
    line = cli_error_line(invoke("data", "check", tmp_path / "a.csv", "--against", tmp_path / "b.csv"))
    assert "also in the other file" in line


def test_console_script_prints_no_traceback(tmp_path: Path):
    bin_dir = Path(sys.executable).parent
    out = subprocess.run(
        [str(bin_dir / "contactlens"), "taxonomy", "validate", str(tmp_path / "missing.yaml")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "no such file" in out.stderr
    assert "Traceback" not in out.stderr
