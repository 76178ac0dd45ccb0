"""What a notebook run did, cell by cell, and how it is told to people as it goes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, TextIO

from streamlab.notebook.parse import Cell, Notebook
from streamlab.notebook.streams import QuerySummary

Status = Literal["ok", "skipped", "failed", "exit", "not run"]


@dataclass
class CellResult:
    """What happened to one cell."""

    number: int
    kind: str
    line: int
    """The cell's first line (of the file; of the cell for ``.ipynb``)."""
    status: Status = "not run"
    seconds: float = 0.0
    note: str = ""
    """Why a cell was skipped, what a ``%pip`` cell found, a markdown cell's first line."""
    error: str = ""
    """``ErrorType: message`` of a failed cell."""
    error_line: int | None = None
    """The line where the error was raised."""
    where: str = ""
    """``cell N (line L of FILE)`` of a failed cell."""
    output: str | None = None
    """What the cell printed, when the run captures output (``--json``)."""
    traceback: str = ""
    """The traceback of a failed cell, limited to the notebook's own frames."""


@dataclass
class RunResult:
    """What happened to a notebook run."""

    notebook: str
    root: str
    cells: list[CellResult] = field(default_factory=list)
    exit_value: str | None = None
    """The value given to ``dbutils.notebook.exit``, if the notebook called it."""
    seconds: float = 0.0
    queries: list[QuerySummary] = field(default_factory=list)
    """Every streaming query the notebook started, stopped at the end of the run."""
    notices: list[str] = field(default_factory=list)
    """What the run did differently from Databricks (lab schemas, Delta as Parquet...), once."""
    closing: str | None = None
    """What the end of the run printed (the last redraw of displayed streams), when captured."""

    @property
    def failure(self) -> CellResult | None:
        """The failed cell, if any."""
        return next((c for c in self.cells if c.status == "failed"), None)

    @property
    def ok(self) -> bool:
        """Whether the run ended without a failing cell."""
        return self.failure is None

    @property
    def status(self) -> str:
        """``ok``, ``exit`` (ended by ``dbutils.notebook.exit``) or ``failed``."""
        if self.failure is not None:
            return "failed"
        return "exit" if self.exit_value is not None else "ok"

    def to_dict(self) -> dict[str, Any]:
        """Return the run as JSON-ready data."""
        failure = self.failure
        return {
            "notebook": self.notebook,
            "root": self.root,
            "status": self.status,
            "exit_value": self.exit_value,
            "seconds": round(self.seconds, 3),
            "error": f"{failure.where}: {failure.error}" if failure else None,
            "cells": [{**asdict(c), "seconds": round(c.seconds, 3)} for c in self.cells],
            "queries": [asdict(q) for q in self.queries],
            "notices": self.notices,
            "closing": self.closing,
        }


class RunListener:
    """Told when each cell starts and ends; the base class does nothing."""

    def started(self, notebook: Notebook, cell: Cell) -> None:
        """Hear that a cell is about to run."""

    def finished(self, notebook: Notebook, cell: Cell, result: CellResult) -> None:
        """Hear that a cell ran, failed or was skipped."""

    def draining(self, queries: list[str]) -> None:
        """Hear that the last cell ran and these queries now process what has landed."""

    def stopped(self, queries: list[QuerySummary]) -> None:
        """Hear that the run stopped its queries, and what each did."""


class TextReporter(RunListener):
    """Prints a line before each cell, and notes and failures after it, for people."""

    def __init__(self, out: Callable[[], TextIO] | None = None) -> None:
        self._out = out or (lambda: sys.stdout)

    def started(self, notebook: Notebook, cell: Cell) -> None:
        """Print the cell's number, kind and line."""
        title = f" · {cell.title}" if cell.title else ""
        if cell.kind == "md":
            text = next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
            title = f" · {text}" if text else ""
        head = f"── cell {cell.number} · {cell.kind} · line {cell.first_line}{title}"
        print(head, file=self._out())

    def finished(self, notebook: Notebook, cell: Cell, result: CellResult) -> None:
        """Print a note (skipped, %pip, exit) or the failure."""
        out = self._out()
        if result.status == "failed":
            if result.traceback:
                print("Traceback (notebook frames):", file=out)
                print(result.traceback.rstrip("\n"), file=out)
            print(result.error, file=out)
        elif result.status == "exit":
            print(f"dbutils.notebook.exit: {result.note}", file=out)
        elif result.note and cell.kind != "md":
            print(f"{result.status}: {result.note}", file=out)
        out.flush()

    def draining(self, queries: list[str]) -> None:
        """Print which queries the end of the run waits for."""
        print(
            f"── end of notebook · {len(queries)} queries process what has landed: "
            f"{', '.join(queries)}",
            file=self._out(),
        )

    def stopped(self, queries: list[QuerySummary]) -> None:
        """Print one line per query the run stopped."""
        out = self._out()
        for query in queries:
            print(f"stream {query.line()}", file=out)
        out.flush()
