"""The setup guide as a notebook: where the shipped files are, and where the guide may run."""

from __future__ import annotations

from pathlib import Path

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths


def check_guide_root(paths: LabPaths) -> None:
    """Refuse a lab root that ``streamlab setup`` generated: the guide would append to its data.

    The guide writes its own random batches with ``mode("append")`` into ``events/batch_NNNN/``
    and the other folders, which would mix them into the lab's deterministic batches.
    """
    if paths.lab_file.exists():
        raise StreamlabError(
            f"{paths.root} holds a lab made by 'streamlab setup' and the guide would append its "
            "own random batches to it: pass --root with another folder"
        )


def guide_notebook(as_written: bool = False) -> Path:
    """Return the shipped notebook of the setup guide (fixed, or ``as_written`` with its bug)."""
    from importlib import resources

    name = "day17_setup_as_written.py" if as_written else "day17_setup.py"
    resource = resources.files("streamlab").joinpath(f"resources/notebooks/{name}")
    path = Path(str(resource))
    if not path.is_file():
        raise StreamlabError(f"the guide notebook {name} is missing from this installation")
    return path
