"""Databricks notebooks, locally: parse them, give them ``spark``/``dbutils``/``display``, run.

>>> from streamlab.notebook import guide_notebook, run_notebook
>>> result = run_notebook(guide_notebook(), spark, "/tmp/streaming")  # doctest: +SKIP
"""

from __future__ import annotations

from streamlab.notebook.dbutils import DBUtils, FileInfo, InputWidgetNotDefined, NotebookExit
from streamlab.notebook.display import Display
from streamlab.notebook.guide import check_guide_root, guide_notebook
from streamlab.notebook.parse import Cell, Notebook, load_notebook, parse_notebook
from streamlab.notebook.paths import PathMapper
from streamlab.notebook.results import CellResult, RunListener, RunResult, TextReporter
from streamlab.notebook.runner import NotebookRunner, notebook_session, run_notebook

__all__ = [
    "Cell",
    "CellResult",
    "DBUtils",
    "Display",
    "FileInfo",
    "InputWidgetNotDefined",
    "Notebook",
    "NotebookExit",
    "NotebookRunner",
    "PathMapper",
    "RunListener",
    "RunResult",
    "TextReporter",
    "check_guide_root",
    "guide_notebook",
    "load_notebook",
    "notebook_session",
    "parse_notebook",
    "run_notebook",
]
