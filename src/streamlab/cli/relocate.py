"""``streamlab relocate``: make a copied, moved or remounted lab work at its new root."""

from __future__ import annotations

import typer
from rich.console import Console

from streamlab.cli._common import JsonOpt, RootOpt, emit, lab_paths, progress_bar


def relocate(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Rewrite the paths a lab recorded (checkpoints, table logs) for the root it is at now.

    For a lab copied (cp -r, rsync), moved (mv) or mounted at another path. Idempotent: run
    again after an interruption, it finishes the job.
    """
    from streamlab.lab.relocate import recorded_path_files, relocate_lab

    paths = lab_paths(root)
    total = len(recorded_path_files(paths))
    with progress_bar("Rewriting recorded paths", total, show=not json) as progress:
        result = relocate_lab(paths, progress=progress)

    def render(out: Console) -> None:
        if not result.moved_from:
            out.print(f"✓ The lab lives at {result.root} already: nothing to rewrite")
            return
        out.print(
            f"✓ Relocated the lab from {', '.join(result.moved_from)} to {result.root}: "
            f"{result.paths} paths in {result.rewritten} of {result.files} log files rewritten"
        )
        for left in result.left:
            out.print(f"  ! {left} still names the old root")
        out.print("Next: streamlab verify, streamlab run")

    emit(result.to_dict(), json, render)


def register(app: typer.Typer) -> None:
    """Add ``relocate`` to ``app``."""
    app.command()(relocate)
