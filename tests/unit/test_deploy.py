"""The Dockerfile and docker-compose.yml agree with the project (docker itself is not needed here)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def _stages() -> dict[str, list[str]]:
    """The Dockerfile's instructions per stage (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if m := re.match(r"FROM\s+\S+\s+AS\s+(\w+)", line, re.I):
            current = m[1]
        stages.setdefault(current, []).append(line)
    return stages


def _installs(stage: list[str]) -> list[str]:
    """The targets of every `pip install` in a stage, options dropped."""
    found = []
    for line in stage:
        if not line.startswith("RUN"):
            continue
        for part in line[3:].split("&&"):
            words = shlex.split(part)
            if words[:2] == ["pip", "install"]:
                skip = False
                for w in words[2:]:
                    if skip:
                        skip = False
                    elif w in ("--index-url", "-r", "-c", "--constraint"):
                        skip = True
                    elif not w.startswith("-"):
                        found.append(w)
    return found


def test_the_image_uses_the_python_the_project_requires() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    arg = re.search(r"ARG PYTHON_VERSION=(\d+\.\d+)", (ROOT / "Dockerfile").read_text())
    assert arg, "the Dockerfile pins its Python with ARG PYTHON_VERSION"
    low, high = re.fullmatch(r">=(\d+\.\d+),<(\d+\.\d+)", project["requires-python"]).groups()  # type: ignore[union-attr]
    version = tuple(map(int, arg[1].split(".")))
    assert tuple(map(int, low.split("."))) <= version < tuple(map(int, high.split(".")))


def test_the_serving_image_installs_the_package_without_torch_and_runs_as_a_user() -> None:
    stages = _stages()
    assert list(stages)[-1] == "serve", "`docker build .` must give the serving image"
    serve = stages["serve"]
    assert _installs(serve) == ["."], "serving installs the package alone: no extras, so no torch"
    assert any(line.startswith("USER contactlens") for line in serve)
    assert any(line.startswith("HEALTHCHECK") and "/readyz" in line for line in serve)
    assert not any("torch" in line for line in stages["base"] + serve)


def test_the_training_image_installs_the_extras_the_project_declares() -> None:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    installs = _installs(_stages()["train"])
    torch_pin = next(r for r in extras["train"] if r.startswith("torch"))
    assert installs[0] == torch_pin, "torch is installed first, with the project's pin, from the CPU index"
    wanted = [w for w in installs if w.startswith(".[")]
    assert wanted == [".[train]"] and set(wanted[0][2:-1].split(",")) <= set(extras)


def test_every_copied_path_exists() -> None:
    for stage in _stages().values():
        for line in stage:
            if line.startswith("COPY"):
                *sources, _ = line.split()[1:]
                for src in sources:
                    assert (ROOT / src).exists(), f"COPY {src}: no such path"


def test_compose_runs_postgres_a_training_job_and_two_workers() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    assert services["db"]["image"].startswith("postgres:")
    api = services["api"]
    assert api["build"]["target"] == "serve"
    assert api["command"][:2] == ["contactlens", "serve"]
    assert api["command"][api["command"].index("--workers") + 1] == "2"
    env = api["environment"]
    assert env["CONTACTLENS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "CONTACTLENS_SESSION_SECRET" in env
    assert api["depends_on"]["train"]["condition"] == "service_completed_successfully"
    train = services["train"]
    assert train["build"]["target"] == "train" and train["restart"] == "no"
    assert "contactlens train" in " ".join(train["command"])
    assert set(_stages()) >= {api["build"]["target"], train["build"]["target"]}


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("docker") is None, reason="docker is not installed here")
def test_the_serving_image_builds() -> None:
    probe = subprocess.run(["docker", "info"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("docker is installed but its engine does not answer")
    done = subprocess.run(
        ["docker", "build", "--target", "serve", "-t", "contactlens:test", str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_constraints_pin_every_dependency_within_the_project_s_ranges() -> None:
    """constraints.txt (what `make install` and the images install) pins each declared dependency, core and
    extras, to one version that its range in pyproject.toml admits."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    from packaging.version import Version

    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not an exact pin: {line}"
            pins[canonicalize_name(name)] = Version(version)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in ("train", "dev", "spark", "ray"):
        declared += project["optional-dependencies"][extra]
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt"
        assert req.specifier.contains(pins[name], prereleases=True), f"{req.name}=={pins[name]} is not {req}"
