"""The artifact contract on tiny in-memory files: format versions, library checks, checksums, discovery."""

import hashlib
import json
from pathlib import Path

import pytest

from contactlens import artifact
from contactlens.errors import ModelError, first_line


def write_meta(directory: Path, **meta) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / artifact.METADATA_FILE).write_text(json.dumps(meta))
    return directory


def test_written_metadata_carries_the_format_and_library_versions(tmp_path: Path):
    meta = artifact.write_metadata(tmp_path, {"labels": ["a"], "review_threshold": 0.4})
    again = artifact.read_metadata(tmp_path)
    assert again == meta
    assert again["format_version"] == artifact.FORMAT_VERSION == 1
    assert again["labels"] == ["a"]
    assert set(again["versions"]) >= set(artifact.PINNED_LIBRARIES)
    artifact.check_compatible(again, tmp_path)  # what this code writes, it reads


def test_format_1_metadata_as_written_before_the_artifact_module_is_readable(tmp_path: Path):
    # metadata.json as `ContactModel.write_metadata` wrote it on main: format 1 and the library versions.
    versions = artifact.library_versions()
    artifact.check_compatible({"format_version": 1, "versions": versions, "labels": ["a"]}, tmp_path)


@pytest.mark.parametrize(
    ("fmt", "hint"),
    [
        (None, "retrain the model"),
        (0, "retrain the model"),
        ("1", "retrain the model"),
        (2, "upgrade ContactLens"),
    ],
)
def test_an_unknown_format_is_refused_with_what_to_do(tmp_path: Path, fmt, hint):
    meta = {"format_version": fmt, "versions": artifact.library_versions()}
    with pytest.raises(ModelError, match=rf"artifact format {fmt}, this ContactLens reads format 1; {hint}"):
        artifact.check_compatible(meta, tmp_path)


@pytest.mark.parametrize("lib", artifact.PINNED_LIBRARIES)
def test_another_minor_of_a_pinned_library_is_refused(tmp_path: Path, lib: str):
    versions = artifact.library_versions()
    versions[lib] = "0.1.0"
    with pytest.raises(ModelError, match=rf"built with {lib} 0\.1\.0, installed is"):
        artifact.check_compatible({"format_version": 1, "versions": versions}, tmp_path)


def test_another_patch_release_is_accepted(tmp_path: Path):
    versions = artifact.library_versions()
    major, minor = versions["numpy"].split(".")[:2]
    versions["numpy"] = f"{major}.{minor}.999"
    artifact.check_compatible({"format_version": 1, "versions": versions}, tmp_path)


def test_read_metadata_names_what_is_wrong(tmp_path: Path):
    with pytest.raises(ModelError, match=r"not a ContactLens model \(no metadata.json\)"):
        artifact.read_metadata(tmp_path)
    (tmp_path / artifact.METADATA_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        artifact.read_metadata(tmp_path)
    (tmp_path / artifact.METADATA_FILE).write_text("[1, 2]")
    with pytest.raises(ModelError, match="not a JSON object"):
        artifact.read_metadata(tmp_path)


def test_find_artifact_needs_metadata_and_heads(tmp_path: Path):
    assert artifact.find_artifact(tmp_path / "absent") is None
    write_meta(tmp_path / "a" / "only-metadata", format_version=1)
    assert artifact.find_artifact(tmp_path) is None
    nested = write_meta(tmp_path / "b" / "artifacts" / "model", format_version=1)
    (nested / artifact.HEADS_FILE).write_bytes(b"")
    assert artifact.is_artifact(nested)
    assert artifact.find_artifact(tmp_path) == nested


def test_sha256_file_matches_hashlib(tmp_path: Path):
    data = bytes(range(256)) * 5000  # several read blocks
    (tmp_path / "f").write_bytes(data)
    assert artifact.sha256_file(tmp_path / "f") == hashlib.sha256(data).hexdigest()


def test_first_line_keeps_one_short_line():
    assert first_line(ValueError("bad thing\n  at line 3\n")) == "bad thing"
    assert first_line(ValueError("   ")) == "ValueError"
    assert first_line(RuntimeError("x" * 500)) == "x" * 200
    assert first_line(RuntimeError("abc"), limit=2) == "ab"
