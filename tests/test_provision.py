"""Setting up a lab on disk: atomic batches, order, idempotence, extension, reset, refusals."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from streamlab.errors import StreamlabError
from streamlab.lab.paths import CHECKPOINTS, SOURCES, LabPaths
from streamlab.raw.generator import GeneratorConfig, generate
from streamlab.raw.landing import (
    DATA_FILE,
    MANIFEST,
    land,
    landed_batches,
    read_lab,
    read_manifests,
)
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME, snapshot


def test_setup_lays_out_the_guides_folders(lab: LabPaths) -> None:
    result = setup_lab(lab, GeneratorConfig(base_time=BASE_TIME))
    for source in SOURCES:
        assert landed_batches(lab, source) == list(range(10))
        assert (lab.batch(source, 0) / DATA_FILE).is_file()
        assert (lab.batch(source, 0) / MANIFEST).is_file()
    for name in CHECKPOINTS:
        assert lab.checkpoint(name).is_dir()
    for db in result.databases:
        assert (lab.warehouse / f"{db}.db").is_dir()
    assert read_lab(lab) == GeneratorConfig(base_time=BASE_TIME)


def test_batch_files_are_newer_batch_by_batch(lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME))
    for source in SOURCES:
        times = [
            (lab.batch(source, b) / DATA_FILE).stat().st_mtime_ns // 1_000_000 for b in range(10)
        ]
        assert times == sorted(set(times)), "Spark's file source orders new files by mtime (ms)"


def test_a_half_written_batch_is_invisible(lab: LabPaths) -> None:
    cfg = GeneratorConfig(base_time=BASE_TIME, batches=2)
    batches = list(generate(cfg, ("events",)))
    land(lab, batches[0])
    # A writer killed mid-batch leaves only its hidden temporary folder behind.
    tmp = lab.source("events") / ".batch_0001.tmp-999"
    tmp.mkdir()
    (tmp / DATA_FILE).write_bytes(batches[1].lines[:100])
    assert landed_batches(lab, "events") == [0]
    land(lab, batches[1])  # a later run lands it whole
    assert (lab.batch("events", 1) / DATA_FILE).read_bytes() == batches[1].lines


def test_landed_batches_are_never_overwritten(lab: LabPaths) -> None:
    batch = next(generate(GeneratorConfig(base_time=BASE_TIME, batches=1), ("events",)))
    land(lab, batch)
    with pytest.raises(StreamlabError, match="never overwritten"):
        land(lab, batch)


def test_setup_is_idempotent_and_extends(lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3))
    before = snapshot(lab.root)
    again = setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3))
    assert not again.changed and snapshot(lab.root) == before
    more = setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=5))
    assert more.generated["events"] == [3, 4]
    after = snapshot(lab.root)
    assert {k: v for k, v in after.items() if k in before and k != "lab.json"} == {
        k: v for k, v in before.items() if k != "lab.json"
    }
    fresh = LabPaths.resolve(lab.root.parent / "fresh")
    setup_lab(fresh, GeneratorConfig(base_time=BASE_TIME, batches=5))
    for source in SOURCES:
        for b in range(5):
            name = f"{source}/batch_{b:04d}/{DATA_FILE}"
            assert after[name] == snapshot(fresh.root)[name]


def test_other_settings_are_refused_and_nothing_is_touched(lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=2))
    before = snapshot(lab.root)
    with pytest.raises(StreamlabError, match=r"other settings \(seed\).*--reset"):
        setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=2, seed=99))
    assert snapshot(lab.root) == before
    result = setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=2, seed=99), reset=True)
    assert result.generated["events"] == [0, 1]
    assert read_manifests(lab, "events")[0]["batch"] == 0


def test_an_unwritable_root_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StreamlabError, match="cannot write to the lab root"):
        setup_lab(LabPaths.resolve(blocker / "lab"), GeneratorConfig(base_time=BASE_TIME))


def test_root_from_environment_and_dbfs_prefix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STREAMLAB_ROOT", str(tmp_path / "env"))
    assert LabPaths.resolve().root == tmp_path / "env"
    assert LabPaths.resolve(f"dbfs:{tmp_path}/x").root == tmp_path / "x"  # no /dbfs mount here
    monkeypatch.setattr("streamlab.lab.paths._DBFS_MOUNT", tmp_path / "dbfs")
    (tmp_path / "dbfs").mkdir()
    assert LabPaths.resolve("dbfs:/tmp/streaming").root == tmp_path / "dbfs" / "tmp" / "streaming"
    assert LabPaths.resolve("dbfs:/Volumes/c/s/v/lab").root == Path("/Volumes/c/s/v/lab")
    monkeypatch.delenv("STREAMLAB_ROOT")
    assert LabPaths.resolve().root == Path("/tmp/streaming")
    assert os.fspath(LabPaths.resolve("rel").root).startswith("/")


@pytest.mark.parametrize(("code", "words"), [(28, "No space left"), (30, "Read-only")])
def test_a_full_or_read_only_disk_keeps_what_landed(
    lab: LabPaths, monkeypatch: pytest.MonkeyPatch, code: int, words: str
) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=2))
    before = snapshot(lab.root)
    real = Path.write_bytes

    def failing(self: Path, data: bytes) -> int:
        if "batch_0002" in str(self.parent) or ".batch_0002" in str(self.parent):
            raise OSError(code, os.strerror(code))
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(StreamlabError, match=words) as info:
        setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3))
    assert "already landed are kept" in str(info.value)
    monkeypatch.undo()
    after = snapshot(lab.root)
    assert {k: v for k, v in after.items() if k != "lab.json"} == {
        k: v for k, v in before.items() if k != "lab.json"
    }
    assert not list(lab.source("events").glob(".batch_*")), "no temporary folder is left"
    assert setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3)).generated["events"] == [
        2
    ]


@pytest.fixture
def in_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any lab is generated by worker processes, in chunks of three batches."""
    from streamlab.raw import provision

    monkeypatch.setattr(provision, "PARALLEL_EVENTS", 1)
    monkeypatch.setattr(provision, "CHUNK_EVENTS", 3 * GeneratorConfig().events_per_batch)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)


def _data(root: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(root).items() if k != ".streamlab.home.json"}


@pytest.mark.usefixtures("in_workers")
def test_workers_land_the_same_bytes_in_order(tmp_path: Path) -> None:
    cfg = GeneratorConfig(base_time=BASE_TIME, batches=11)
    serial = LabPaths.resolve(tmp_path / "serial")
    setup_lab(serial, cfg, progress=None)
    parallel, seen = LabPaths.resolve(tmp_path / "parallel"), []
    from streamlab.raw import provision

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(provision, "PARALLEL_EVENTS", 10**12)  # the serial lab above was in workers
        setup_lab(serial.__class__.resolve(tmp_path / "one-process"), cfg)
    setup_lab(parallel, cfg, progress=lambda done, total: seen.append((done, total)))
    assert _data(parallel.root) == _data(serial.root) == _data(tmp_path / "one-process")
    assert seen == [(k, 33) for k in range(1, 34)]
    for source in SOURCES:
        times = [(parallel.batch(source, b) / DATA_FILE).stat().st_mtime_ns for b in range(11)]
        assert times == sorted(set(times))
        assert not [p.name for p in parallel.source(source).iterdir() if p.name.startswith(".")]


@pytest.mark.usefixtures("in_workers")
def test_workers_extend_a_lab_from_what_landed(lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=4))
    kept = snapshot(lab.source("events"))
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=9))
    assert all(landed_batches(lab, s) == list(range(9)) for s in SOURCES)
    now = snapshot(lab.source("events"))
    assert {k: now[k] for k in kept} == kept


@pytest.mark.usefixtures("in_workers")
def test_a_failing_worker_is_one_line_and_leaves_nothing_staged(lab: LabPaths) -> None:
    lab.root.mkdir(parents=True)
    lab.source("clicks").write_text("not a folder")  # every clicks batch fails to stage
    with pytest.raises(StreamlabError, match=r"could not write .*clicks.*free space") as err:
        setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=8))
    assert "\n" not in str(err.value)
    for source in ("events", "impressions"):
        hidden = [p for p in lab.source(source).glob(".*")] if lab.source(source).exists() else []
        assert hidden == []
