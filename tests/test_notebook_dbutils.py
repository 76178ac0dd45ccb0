"""The local dbutils: fs on the lab root, widgets from parameters, notebook.exit; magics."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamlab.notebook import DBUtils, InputWidgetNotDefined, NotebookExit
from streamlab.notebook.magics import fs_command, pip_status, resolve_run_target


@pytest.fixture
def dbutils(tmp_path: Path) -> DBUtils:
    return DBUtils(tmp_path / "lab", {"day": "17", "mode": "fast"})


def test_guide_and_dbfs_paths_land_under_the_root(dbutils: DBUtils, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    assert dbutils.fs.mkdirs("/tmp/streaming/checkpoints/watermark_test")
    assert (root / "checkpoints" / "watermark_test").is_dir()
    assert dbutils.fs.put("dbfs:/tmp/streaming/notes.txt", "hello")
    assert (root / "notes.txt").read_text() == "hello"
    assert dbutils.fs.put("dbfs:/FileStore/a.txt", "a")
    assert (root / "dbfs" / "FileStore" / "a.txt").read_text() == "a"
    assert dbutils.fs.head("/dbfs/FileStore/a.txt") == "a"


def test_ls_returns_file_infos(dbutils: DBUtils, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    dbutils.fs.put("/tmp/streaming/events/batch_0001/part-0.json", '{"a": 1}\n')
    dbutils.fs.mkdirs("/tmp/streaming/events/batch_0000")
    entries = dbutils.fs.ls("/tmp/streaming/events/")
    assert [e.name for e in entries] == ["batch_0000/", "batch_0001/"]
    assert entries[0].path == f"file:{root}/events/batch_0000/"
    assert entries[0].isDir() and not entries[0].isFile()
    [part] = dbutils.fs.ls("dbfs:/tmp/streaming/events/batch_0001")
    assert (part.name, part.size, part.isFile()) == ("part-0.json", 9, True)
    assert part.modificationTime > 1_600_000_000_000  # milliseconds
    assert dbutils.fs.ls(part.path) == [part]  # a file lists itself; file: paths work
    with pytest.raises(FileNotFoundError, match="does not exist"):
        dbutils.fs.ls("/tmp/streaming/nothing")


def test_put_head_rm(dbutils: DBUtils) -> None:
    dbutils.fs.put("/tmp/streaming/f.txt", "0123456789")
    with pytest.raises(FileExistsError):
        dbutils.fs.put("/tmp/streaming/f.txt", "again")
    dbutils.fs.put("/tmp/streaming/f.txt", "abcdef", overwrite=True)
    assert dbutils.fs.head("/tmp/streaming/f.txt", 3) == "abc"
    assert dbutils.fs.head("/tmp/streaming/f.txt") == "abcdef"
    dbutils.fs.put("/tmp/streaming/d/x.txt", "x")
    with pytest.raises(OSError, match="not empty"):
        dbutils.fs.rm("/tmp/streaming/d")
    assert dbutils.fs.rm("/tmp/streaming/d", recurse=True)
    assert dbutils.fs.rm("/tmp/streaming/f.txt")
    assert dbutils.fs.rm("/tmp/streaming/f.txt") is False


def test_cp_and_mv(dbutils: DBUtils, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    dbutils.fs.put("/tmp/streaming/src/a.txt", "a")
    dbutils.fs.put("/tmp/streaming/src/sub/b.txt", "b")
    with pytest.raises(OSError, match="recurse=True"):
        dbutils.fs.cp("/tmp/streaming/src", "/tmp/streaming/copy")
    assert dbutils.fs.cp("/tmp/streaming/src", "/tmp/streaming/copy", recurse=True)
    assert (root / "copy" / "sub" / "b.txt").read_text() == "b"
    dbutils.fs.mkdirs("/tmp/streaming/into")
    dbutils.fs.cp("/tmp/streaming/src/a.txt", "/tmp/streaming/into")  # into a folder
    assert (root / "into" / "a.txt").read_text() == "a"
    assert dbutils.fs.mv("/tmp/streaming/copy", "/tmp/streaming/moved", recurse=True)
    assert not (root / "copy").exists()
    assert (root / "moved" / "a.txt").exists()
    dbutils.fs.mv("/tmp/streaming/into/a.txt", "/tmp/streaming/renamed.txt")
    assert (root / "renamed.txt").read_text() == "a"
    with pytest.raises(FileNotFoundError):
        dbutils.fs.mv("/tmp/streaming/gone", "/tmp/streaming/x")


def test_widgets_take_parameters(dbutils: DBUtils) -> None:
    dbutils.widgets.text("day", "1", "Day")
    dbutils.widgets.text("name", "guide")
    assert dbutils.widgets.get("day") == "17"  # --param day=17 wins over the default
    assert dbutils.widgets.get("name") == "guide"
    assert dbutils.widgets.get("mode") == "fast"  # a parameter without a widget, as in jobs
    assert dbutils.widgets.getArgument("missing", "dflt") == "dflt"
    with pytest.raises(InputWidgetNotDefined, match="No input widget named missing"):
        dbutils.widgets.get("missing")
    assert dbutils.widgets.getAll() == {"day": "17", "mode": "fast", "name": "guide"}
    dbutils.widgets.remove("name")
    with pytest.raises(InputWidgetNotDefined):
        dbutils.widgets.get("name")
    dbutils.widgets.removeAll()
    assert dbutils.widgets.get("day") == "17"


def test_dropdown_checks_parameter_choices(tmp_path: Path) -> None:
    dbutils = DBUtils(tmp_path, {"policy": "avg"})
    with pytest.raises(ValueError, match="not one of the widget's choices"):
        dbutils.widgets.dropdown("policy", "min", ["min", "max"])
    dbutils.widgets.dropdown("other", "min", ["min", "max"])
    assert dbutils.widgets.get("other") == "min"
    dbutils.widgets.combobox("policy", "min", ["min", "max"])  # any value is fine
    assert dbutils.widgets.get("policy") == "avg"


def test_notebook_exit_raises_with_its_value(dbutils: DBUtils) -> None:
    with pytest.raises(NotebookExit) as info:
        dbutils.notebook.exit(42)
    assert info.value.value == "42"
    with pytest.raises(NotImplementedError, match="%run"):
        dbutils.notebook.run("other", 60)
    dbutils.library.restartPython()  # a no-op here


def test_pip_status() -> None:
    assert pip_status("install pyspark typer==0.12 -q") == (
        "ok",
        "already installed: pyspark, typer",
    )
    status, note = pip_status("install --upgrade streamlab-no-such-package")
    assert status == "skipped"
    assert "not installed: streamlab-no-such-package" in note
    assert pip_status("install -r requirements.txt") == ("ok", "nothing to install")
    assert pip_status("uninstall rich")[0] == "skipped"


def test_fs_magic(dbutils: DBUtils, tmp_path: Path) -> None:
    dbutils.fs.put("/tmp/streaming/a/x.txt", "hi")
    assert [f.name for f in fs_command(dbutils, "ls /tmp/streaming/a")] == ["x.txt"]  # type: ignore[attr-defined]
    assert fs_command(dbutils, "head /tmp/streaming/a/x.txt") == "hi"
    assert fs_command(dbutils, "cp -r /tmp/streaming/a /tmp/streaming/b")
    assert fs_command(dbutils, "rm -r /tmp/streaming/a")
    assert not (tmp_path / "lab" / "a").exists()
    with pytest.raises(ValueError, match="not supported"):
        fs_command(dbutils, "chmod 777 /x")


def test_run_target_finds_the_notebook(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    main = tmp_path / "sub" / "main.py"
    assert resolve_run_target(main, "../helpers") == tmp_path / "helpers.py"
    assert resolve_run_target(main, f"{tmp_path}/helpers.py") == tmp_path / "helpers.py"
    with pytest.raises(FileNotFoundError, match="no notebook"):
        resolve_run_target(main, "./missing")
