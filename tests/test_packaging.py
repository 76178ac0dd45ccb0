"""The package builds as a wheel that carries everything a Databricks cluster needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: the build backend (hatchling) is installed already, so this works
    # offline, exactly as docs/databricks.md builds it.
    args = ["wheel", "--no-deps", "--no-build-isolation", "-q", str(REPO), "-w", str(out)]
    result = subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("streamlab-*-py3-none-any.whl")
    return built


def test_the_wheel_holds_every_module_and_resource(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    sources = {
        f"streamlab/{p.relative_to(REPO / 'src' / 'streamlab').as_posix()}"
        for p in (REPO / "src" / "streamlab").rglob("*.py")
    }
    assert sources <= names, sorted(sources - names)
    assert "streamlab/py.typed" in names
    assert "streamlab/resources/log4j2.properties" in names
    assert "streamlab/resources/templates/report.html.j2" in names
    for page in ("index.html", "app.js", "style.css", "chart.umd.min.js", "chart.js.LICENSE.md"):
        assert f"streamlab/resources/live/{page}" in names  # the dashboard works offline
    for module in ("cluster", "connect", "daemons", "session", "settings"):
        assert f"streamlab/spark/{module}.py" in names


def test_the_wheel_declares_the_command_and_its_dependencies(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    info = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
    metadata = archive.read(info).decode()
    assert "Requires-Dist: pyspark[connect]" in metadata
    entry_points = archive.read(info.replace("METADATA", "entry_points.txt")).decode()
    assert "streamlab = streamlab.cli:main" in entry_points
