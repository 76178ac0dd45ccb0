"""The package's shape: no import cycles, a pure model, imports only down the layers, a lean CLI."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "streamlab"
CYCLES_TOOL = Path(__file__).resolve().parents[2] / "shared" / "tools" / "import_cycles.py"

# What each part of streamlab may import from streamlab, besides itself. The same table is in
# docs/architecture.md. Function-level imports count: a lazy import is still a dependency.
BASE = {"errors", "durations", "settings"}
LAYERS: dict[str, set[str]] = {
    "errors": set(),
    "durations": {"errors"},
    "settings": {"errors", "durations"},
    "lab": BASE,
    "raw": BASE | {"lab"},
    "spark": BASE | {"lab"},
    "ingest": BASE | {"lab", "raw"},
    "model": BASE | {"lab", "raw", "ingest"},
    "pipelines": BASE | {"lab", "ingest", "model"},
    "run": BASE | {"lab", "raw", "ingest", "model", "pipelines", "spark"},
    "checks": BASE | {"lab", "raw", "ingest", "model", "pipelines", "run"},
    "analysis": BASE | {"lab", "raw", "ingest", "model", "pipelines", "checks"},
    "notebook": BASE | {"lab", "raw", "ingest", "spark"},
    "testing": BASE | {"model", "spark"},
    "live": BASE | {"lab", "raw", "ingest", "model", "pipelines", "run", "checks", "spark"},
    "quiz": BASE | {"lab", "raw", "spark", "ingest", "model", "testing"},
    "exercises": BASE | {"lab", "raw", "spark", "ingest", "model", "testing"},
    "cli": BASE
    | {"lab", "raw", "spark", "ingest", "model", "pipelines", "run", "checks", "analysis"}
    | {"notebook", "live", "quiz", "exercises"},
    "__main__": {"cli"},
    "__init__": BASE | {"lab", "raw", "spark", "ingest", "checks"},
}


def _part(file: Path) -> str:
    rel = file.relative_to(SRC).parts
    return rel[0] if len(rel) > 1 else rel[0].removesuffix(".py")


def _imported_parts(file: Path) -> set[str]:
    """Return the parts of streamlab that ``file`` imports, at any level of the code."""
    here = file.relative_to(SRC.parent).with_suffix("").parts
    package = here if here[-1] == "__init__" else here[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = list(package[: len(package) - (node.level - 1)])
                module = ".".join([*base, module] if module else base)
            names = [module]
        for name in names:
            parts = name.split(".")
            if parts[0] == "streamlab" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_there_is_no_import_cycle() -> None:
    assert CYCLES_TOOL.is_file(), f"{CYCLES_TOOL} is missing: it sits in ../shared beside the repo"
    out = subprocess.run(
        [sys.executable, str(CYCLES_TOOL), str(SRC)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "cycles: 0", out.stdout


def test_every_import_goes_down_the_layers() -> None:
    upward = []
    for file in sorted(SRC.rglob("*.py")):
        if "resources" in file.relative_to(SRC).parts:
            continue
        part = _part(file)
        assert part in LAYERS, f"{file.relative_to(SRC)}: add {part!r} to the layering table"
        for target in sorted(_imported_parts(file) - {part}):
            if target not in LAYERS[part]:
                upward.append(f"{file.relative_to(SRC)} imports streamlab.{target}")
    assert not upward, "imports against the layering table:\n" + "\n".join(upward)


def test_the_docs_show_the_same_layering_table() -> None:
    text = (REPO / "docs" / "architecture.md").read_text()
    text = text.split("## What each package may import", 1)[1].split("\n## ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \|([^|]*)\|", text, flags=re.MULTILINE))
    documented = {part: set(re.findall(r"`(\w+)`", allowed)) for part, allowed in rows.items()}
    assert documented == LAYERS


_BLOCKER = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocker())
"""


def _run_blocked(blocked: set[str], code: str) -> subprocess.CompletedProcess[str]:
    program = f"BLOCKED = {sorted(blocked)!r}\n{_BLOCKER}\n{textwrap.dedent(code)}"
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, cwd=REPO
    )


def test_the_model_imports_and_runs_without_pyspark_or_pandas() -> None:
    out = _run_blocked(
        {"pyspark", "py4j", "pandas"},
        """
        import streamlab.model
        from streamlab.model import simulate, ModelConfig
        from streamlab.model.landed import load_source
        import streamlab.model.explain
        print("ok")
        """,
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_the_cli_imports_nothing_heavy() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, streamlab.cli; "
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = set(out.stdout.split())
    assert not loaded & {"pyspark", "py4j", "pandas", "matplotlib", "numpy"}, loaded


def test_tests_share_helpers_only_through_tests_support() -> None:
    offenders = []
    for file in sorted((REPO / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(file.read_text())):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            if module and (module == "tests.conftest" or module.startswith("tests.test_")):
                offenders.append(f"{file.name}: from {module} import ...")
    assert offenders == []
