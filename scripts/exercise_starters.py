"""Write the workbook's starter files from the catalogue and the reference solutions.

    python scripts/exercise_starters.py          # rewrite resources/exercises/starters
    python scripts/exercise_starters.py --check  # exit 1 if a starter is out of date

A starter keeps its reference's imports, states the task in its docstring and leaves
``solve``/``answer`` to write; a troubleshooting exercise's starter is the broken query to fix.
"""

from __future__ import annotations

import ast
import sys
import textwrap
from pathlib import Path

from streamlab.exercises import EXERCISES, Exercise

OUT = Path(__file__).resolve().parent.parent / "src/streamlab/resources/exercises/starters"


def starter(ex: Exercise) -> str:
    ref = ex.reference_source()
    tree = ast.parse(ref)
    doc = (
        f"Exercise {ex.number} ({ex.slug}): {ex.concept}.\n\n"
        + "\n".join(textwrap.wrap(ex.task, 92))
        + "\n\n"
        + "\n".join(textwrap.wrap(f"Return {ex.returns}.", 92))
        + f"\n\nCheck it with: streamlab exercises check {ex.number}\n"
    )
    if ex.starter_is_broken:
        src = ex.mutant_source(ex.mutants[0])
        rest = "\n".join(src.splitlines()[tree.body[1].lineno - 1 :])
        gap = "\n\n\n" if rest.startswith("def ") else "\n\n"
        return f'"""{doc}"""{gap}{rest}\n'
    imports = [
        ast.get_source_segment(ref, n) or ""
        for n in tree.body
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]
    if ex.kind == "answer":
        imports = [i for i in imports if "pyspark" not in i]
    lines = [f'"""{doc}"""', ""]
    if imports:
        lines += [*imports, ""]
    if ex.output_mode != "append":
        lines += ['OUTPUT_MODE = "append"  # TODO: the output mode the exercise asks for', ""]
    what = "build and return the streaming DataFrame" if ex.kind == "query" else "compute it"
    lines += [
        "",
        f"def {ex.function}({', '.join(ex.inputs)}):",
        f"    # TODO: {what}.",
        f'    raise NotImplementedError("exercise {ex.number}: write your {ex.function}()")',
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    stale = []
    for ex in EXERCISES:
        path = OUT / ex.file_name
        text = starter(ex)
        if "--check" in argv:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print(f"out of date: {', '.join(stale)} (run python scripts/exercise_starters.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
