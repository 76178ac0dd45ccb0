"""Running a notebook locally: every cell in one namespace, as a Databricks cluster would.

Python cells run with ``spark``, ``sc``, ``dbutils``, ``display`` and ``displayHTML`` defined;
``%sql`` cells go through ``spark.sql`` one statement at a time and display the last result
(also kept as ``_sqldf``); ``%md`` cells are text; ``%pip`` checks that the packages are
installed (nothing is installed while running); ``%sh`` runs in a shell; ``%fs`` calls
``dbutils.fs``; ``%run`` runs another notebook in the same namespace. The guide's and DBFS paths
are mapped to the lab root first (:mod:`streamlab.notebook.paths`).

What local Spark lacks (schemaless reads of the lab's folders, Auto Loader, Delta) is answered
by :mod:`streamlab.notebook.intercept` while the run lasts. Streaming queries the notebook starts
run in the background, as on Databricks; after the last cell each one processes what has landed,
is stopped, and is summed up (:mod:`streamlab.notebook.streams`). ``timeout`` bounds the run.

The first failing cell stops the run and is reported by number and line:
``cell 5 (line 60 of day17_setup_as_written.py): PySparkTypeError: ...``. A Spark error that
:func:`streamlab.spark.errors.translate` knows is reported as its cause and fix instead, at the
line that uses the operator involved; a query that fails in the background is reported with the
cell that started it.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import io
import linecache
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import CodeType, TracebackType
from typing import TYPE_CHECKING, Any

from streamlab.errors import StreamlabError
from streamlab.lab.catalog import attach_catalog, database_path, uses_lab_catalog
from streamlab.lab.home import check_home, record_home
from streamlab.lab.paths import LabPaths
from streamlab.notebook import delta, intercept
from streamlab.notebook.dbutils import DBUtils, NotebookExit
from streamlab.notebook.display import Display, StreamDisplay
from streamlab.notebook.magics import fs_command, pip_status, resolve_run_target
from streamlab.notebook.parse import Cell, Notebook, load_notebook
from streamlab.notebook.paths import PathMapper
from streamlab.notebook.results import CellResult, RunListener, RunResult, Status
from streamlab.notebook.sql import database_created, split_sql
from streamlab.notebook.streams import QueryRegistry, TrackedQuery
from streamlab.spark.errors import is_spark_error, translate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

_MAX_RUN_DEPTH = 8
_DISPLAY_MODES = ("complete", "update")
"""Output modes ``display()`` of an aggregation tries, in order, as Databricks does."""
_AGGREGATE = re.compile(r"^[\s:+~-]*Aggregate \[", re.MULTILINE)


class ShellCommandError(Exception):
    """A ``%sh`` cell whose command exited with a non-zero status."""


class _CellFailure(Exception):
    """A cell failed: carries the report, so a ``%run`` cell can pass it up unchanged."""

    def __init__(self, where: str, error: str, line: int | None, tb: str) -> None:
        super().__init__(f"{where}: {error}")
        self.where, self.error, self.line, self.tb = where, error, line, tb


class NotebookRunner:
    """Runs notebooks against one Spark session and lab root, sharing one namespace."""

    def __init__(
        self,
        spark: SparkSession,
        root: str | Path | None = None,
        *,
        params: Mapping[str, str] | None = None,
        capture: bool = False,
        listener: RunListener | None = None,
        timeout: float | None = None,
    ) -> None:
        self.spark = spark
        self.timeout = timeout
        self.queries = QueryRegistry()
        self._cell: tuple[Notebook, Cell] | None = None
        self._notices: list[str] = []
        self._noticed: set[str] = set()
        self._timed_out = threading.Event()
        self._displays = 0
        self.paths = LabPaths.resolve(root)
        self.mapper = PathMapper(self.paths.root)
        self.capture = capture
        self.listener = listener or RunListener()
        self.dbutils = DBUtils(self.paths.root, params)
        self.display = Display(lambda: sys.stdout)
        self.display.stream_starter = self._display_stream
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__builtins__": builtins,
            "spark": spark,
            "dbutils": self.dbutils,
            "display": self.display,
            "displayHTML": self.display.html,
            "getArgument": self.dbutils.widgets.getArgument,
        }
        with contextlib.suppress(Exception):  # Spark Connect has no SparkContext
            self.namespace["sc"] = spark.sparkContext
        self._labels: dict[str, str] = {}
        self._sources: dict[str, list[str]] = {}
        self._depth = 0

    def run(self, notebook: Notebook | str | Path) -> RunResult:
        """Run every cell of ``notebook`` in order; stop at the first failing cell."""
        book = notebook if isinstance(notebook, Notebook) else load_notebook(notebook)
        for cell in book.cells:
            if cell.kind in ("python", "sql", "sh"):
                self.mapper.rewrite(cell.source)  # a root paths cannot map to fails here, early
        self.paths.ensure_writable()
        # The notebook's /tmp/streaming and dbfs: paths map to this root: a lab that was set
        # up at another one is refused, so one lab is never seen under two roots.
        check_home(self.paths, writing=True, fix="or run the notebook with a fresh --root")
        record_home(self.paths)
        attach_catalog(self.spark, self.paths)
        result = RunResult(str(book.path), str(self.paths.root))
        started = time.perf_counter()
        folder = str(book.path.resolve().parent)
        sys.path.insert(0, folder)
        # Code that finds the lab by itself (streamlab.exercises.check) finds this one.
        outer_root = os.environ.get("STREAMLAB_ROOT")
        os.environ["STREAMLAB_ROOT"] = str(self.paths.root)
        hooks = intercept.Hooks(
            self.spark,
            self.paths.root,
            self._notice,
            self._started,
            real_delta=delta.has_delta(self.spark),
        )
        watchdog = self._watchdog()
        try:
            with intercept.installed(hooks):
                try:
                    self._run_cells(book, result)
                    active = [t.name for t in self.queries.active()]
                    if result.ok and active and not self._timed_out.is_set():
                        self.listener.draining(active)
                        self.queries.drain(lambda t, e: self._background_failure(result, t, e))
                except KeyboardInterrupt:
                    if not self._timed_out.is_set():
                        raise
                if not any(c.status == "failed" for c in result.cells):
                    self._timeout_failure(result, None)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
            if outer_root is None:
                os.environ.pop("STREAMLAB_ROOT", None)
            else:
                os.environ["STREAMLAB_ROOT"] = outer_root
            buffer = io.StringIO()
            with self._captured(buffer):
                result.queries = self.queries.stop_all()
            result.closing = buffer.getvalue() if self.capture else None
            if result.queries:
                self.listener.stopped(result.queries)
            result.notices = list(self._notices)
            result.seconds = time.perf_counter() - started
        done = {c.number for c in result.cells}
        result.cells += [
            CellResult(c.number, c.kind, c.first_line) for c in book.cells if c.number not in done
        ]
        return result

    def _run_cells(self, book: Notebook, result: RunResult) -> None:
        for cell in book.cells:
            outcome = self._run_top(book, cell)
            result.cells.append(outcome)
            if self._timeout_failure(result, outcome):
                return
            if outcome.status == "exit":
                result.exit_value = outcome.note
            if outcome.status in ("failed", "exit"):
                return
            self.queries.refresh()
            failed = self.queries.failed()
            if failed is not None:
                error = failed.query.exception()
                self._background_failure(result, failed, error or RuntimeError("query failed"))
                return

    def _watchdog(self) -> threading.Timer | None:
        """Start the timer that ends the run after ``timeout`` seconds."""
        if self.timeout is None:
            return None

        runner = threading.get_ident()

        def fire() -> None:
            self._timed_out.set()
            for tracked in self.queries.queries:
                with contextlib.suppress(Exception):
                    tracked.query.stop()
            if runner == threading.main_thread().ident:
                # A real SIGINT, so that a cell blocked in time.sleep or a socket wakes up.
                signal.pthread_kill(runner, signal.SIGINT)
            else:  # signals only reach the main thread: interrupt at the next bytecode
                import _thread

                _thread.interrupt_main()

        timer = threading.Timer(self.timeout, fire)
        timer.daemon = True
        timer.start()
        return timer

    def _timeout_failure(self, result: RunResult, outcome: CellResult | None) -> bool:
        """Turn a run that went past ``timeout`` into a failure of the cell it was in."""
        if not self._timed_out.is_set():
            return False
        cell = outcome or (result.cells[-1] if result.cells else None)
        if cell is None:
            return True
        cell.status = "failed"
        cell.where = (
            cell.where or f"cell {cell.number} (line {cell.line} of {Path(result.notebook).name})"
        )
        cell.error = (
            f"the run went past --timeout {self.timeout:g} s: stop the notebook's queries "
            "(query.stop()) or give them .trigger(availableNow=True), or raise --timeout"
        )
        return True

    def _background_failure(
        self, result: RunResult, tracked: TrackedQuery, exc: BaseException
    ) -> None:
        """Report a query that failed in the background as a failure of the cell that started it."""
        cell = next((c for c in result.cells if c.number == tracked.cell), None)
        if cell is None:
            return
        explained = translate(exc)
        message = (
            explained.message
            if explained.known
            else explained.message.removeprefix("Spark failed the query: ")
        )
        cell.status = "failed"
        cell.where, cell.error_line = tracked.where, tracked.line
        cell.error = f"query {tracked.name} failed in the background: {message}"

    def _notice(self, key: str, text: str) -> None:
        """Print ``text`` once per run (per ``key``)."""
        if key in self._noticed:
            return
        self._noticed.add(key)
        self._notices.append(text)
        print(text)

    def _started(self, query: StreamingQuery) -> None:
        """Track a query the notebook just started, with the cell and line that started it."""
        self._track(query)

    def _track(self, query: StreamingQuery, display: StreamDisplay | None = None) -> TrackedQuery:
        number, where, line = 0, "", None
        if self._cell is not None:
            book, cell = self._cell
            frames = [f for f in traceback.extract_stack() if f.filename in self._labels]
            line = frames[-1].lineno if frames and frames[-1].lineno else cell.first_line
            label = self._labels[frames[-1].filename] if frames else book.path.name
            number, where = cell.number, f"cell {cell.number} (line {line} of {label})"
        return self.queries.add(query, number, where, display, line)

    def _display_stream(self, df: DataFrame) -> StreamDisplay:
        """``display()`` of a stream: start a memory-sink query, show its rows as they arrive."""
        self._displays += 1
        name = f"display_query_{self._displays}"
        plan = df._jdf.queryExecution().analyzed().treeString()
        modes = _DISPLAY_MODES if _AGGREGATE.search(plan) else ("append",)
        query: StreamingQuery | None = None
        for mode in modes:
            writer = df.writeStream.format("memory").queryName(name).outputMode(mode)
            try:
                start = getattr(type(writer).start, "__wrapped_original__", type(writer).start)
                query = start(writer)
                break
            except Exception:
                if mode == modes[-1]:
                    raise
        assert query is not None
        shown = StreamDisplay(self.spark, query, name, mode, self.display)
        self._track(query, shown)
        query.processAllAvailable()
        shown.refresh()
        return shown

    def _run_top(self, book: Notebook, cell: Cell) -> CellResult:
        result = CellResult(cell.number, cell.kind, cell.first_line)
        self.listener.started(book, cell)
        start = time.perf_counter()
        buffer = io.StringIO()
        self._cell = (book, cell)
        try:
            with self._captured(buffer):
                result.status, result.note = self._run_cell(book, cell)
                if self.capture:
                    self.queries.refresh()  # later cells' redraws of display() go to this cell
        except KeyboardInterrupt:
            if not self._timed_out.is_set():
                raise
            result.status = "failed"
        except NotebookExit as done:
            result.status, result.note = "exit", done.value
        except _CellFailure as failure:
            result.status, result.error, result.error_line = "failed", failure.error, failure.line
            result.where, result.traceback = failure.where, failure.tb
        finally:
            result.seconds = time.perf_counter() - start
            if self.capture:
                result.output = buffer.getvalue()
        self.listener.finished(book, cell, result)
        return result

    @contextlib.contextmanager
    def _captured(self, buffer: io.StringIO) -> Iterator[None]:
        if not self.capture:
            yield
            return
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            yield

    def _run_cell(self, book: Notebook, cell: Cell) -> tuple[Status, str]:
        """Run one cell; raise _CellFailure (or NotebookExit) when it does not succeed."""
        try:
            return self._dispatch(book, cell)
        except (NotebookExit, _CellFailure):
            raise
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            if self._timed_out.is_set():
                raise KeyboardInterrupt from exc  # SystemExit too: a cell must not end the runner
            raise self._failure(book, cell, exc) from exc

    def _dispatch(self, book: Notebook, cell: Cell) -> tuple[Status, str]:
        if cell.kind == "python":
            self._run_python(book, cell)
        elif cell.kind == "sql":
            self._run_sql(cell)
        elif cell.kind == "md":
            return "ok", next((ln.strip() for ln in cell.source.splitlines() if ln.strip()), "")
        elif cell.kind == "pip":
            return pip_status(cell.source)
        elif cell.kind == "sh":
            self._run_shell(book, cell)
        elif cell.kind == "fs":
            self.display(fs_command(self.dbutils, cell.source))
        elif cell.kind == "run":
            return self._run_included(book, cell)
        else:
            raise NotImplementedError(
                f"{cell.magic or 'this'} cells cannot run here: only Python, %sql, %md, %pip, "
                "%sh, %fs and %run cells run locally"
            )
        return "ok", ""

    def _filename(self, book: Notebook, cell: Cell) -> str:
        if book.lines_in_file:
            name = str(book.path)
            self._labels[name] = book.path.name
        else:
            name = f"{book.path} (cell {cell.number})"
            self._labels[name] = f"cell {cell.number} of {book.path.name}"
        return name

    def _run_python(self, book: Notebook, cell: Cell) -> None:
        filename = self._filename(book, cell)
        code = "\n" * (cell.first_line - 1) + self.mapper.rewrite(cell.source)
        self._remember(filename, cell.first_line, code)
        tree = ast.parse(code, filename)
        last: CodeType | None = None
        final = tree.body[-1] if tree.body else None
        if isinstance(final, ast.Expr):
            # Like a notebook, show the value of the cell's last expression.
            tree.body.pop()
            last = compile(ast.Expression(final.value), filename, "eval")
        exec(compile(tree, filename, "exec"), self.namespace)
        if last is not None:
            value = eval(last, self.namespace)
            if value is not None:
                print(repr(value))

    def _remember(self, filename: str, first_line: int, code: str) -> None:
        """Keep every cell's code for tracebacks, which may show frames of earlier cells."""
        lines = self._sources.setdefault(filename, [])
        cell_lines = code.splitlines(keepends=True)[first_line - 1 :]
        end = first_line - 1 + len(cell_lines)
        lines.extend("\n" for _ in range(end - len(lines)))
        lines[first_line - 1 : end] = cell_lines
        linecache.cache[filename] = (sum(map(len, lines)), None, list(lines), filename)

    def _run_sql(self, cell: Cell) -> None:
        result = None
        for statement in split_sql(self.mapper.rewrite(cell.source), cell.first_line):
            try:
                result = self._sql(statement.text)
            except Exception as exc:
                exc.streamlab_line = statement.line  # type: ignore[attr-defined]
                raise
        if result is not None:
            self.namespace["_sqldf"] = result
            if result.columns:
                self.display(result)

    def _sql(self, statement: str) -> DataFrame:
        """Run one statement; a bare ``CREATE DATABASE`` makes a database of the lab's warehouse.

        The lab's catalog keeps each database as ``<root>/warehouse/<name>.db`` (see
        :mod:`streamlab.lab.catalog`), so the database gets that location, and one the session
        already knows from another lab root is re-pointed there, as every streamlab session does.
        """
        database = database_created(statement)
        if database is None or not uses_lab_catalog(self.spark):
            return self.spark.sql(statement)
        self.mapper.check_safe()
        folder = database_path(self.paths, database)
        result = self.spark.sql(f"{statement} LOCATION '{folder}'")
        folder.mkdir(parents=True, exist_ok=True)
        attach_catalog(self.spark, self.paths)
        return result

    def _run_shell(self, book: Notebook, cell: Cell) -> None:
        done = subprocess.run(
            ["bash", "-c", self.mapper.rewrite(cell.source)],
            cwd=book.path.resolve().parent,
            capture_output=True,
            text=True,
            check=False,
        )
        sys.stdout.write(done.stdout)
        sys.stdout.write(done.stderr)
        if done.returncode:
            raise ShellCommandError(f"the command exited with status {done.returncode}")

    def _run_included(self, book: Notebook, cell: Cell) -> tuple[Status, str]:
        target = resolve_run_target(book.path, cell.source)
        if self._depth >= _MAX_RUN_DEPTH:
            raise RecursionError(f"%run nests deeper than {_MAX_RUN_DEPTH} notebooks")
        included = load_notebook(target)
        self._depth += 1
        try:
            for inner in included.cells:
                self._run_cell(included, inner)
        except _CellFailure as failure:
            label = self._labels.get(str(book.path), book.path.name)
            outer = f"cell {cell.number} (line {cell.first_line} of {label}, {cell.magic})"
            raise _CellFailure(
                f"{outer} → {failure.where}", failure.error, failure.line, failure.tb
            ) from failure
        finally:
            self._depth -= 1
        return "ok", f"ran {target.name}"

    def _failure(self, book: Notebook, cell: Cell, exc: BaseException) -> _CellFailure:
        frames = self._notebook_frames(exc.__traceback__)
        line: int | None = getattr(exc, "streamlab_line", None)
        label = self._labels.get(self._filename(book, cell), book.path.name)
        if isinstance(exc, SyntaxError) and exc.filename in self._labels and exc.lineno:
            line, label = exc.lineno, self._labels[exc.filename]
        elif frames:
            line, label = frames[-1].lineno, self._labels[frames[-1].filename]
        if line is None:  # raised outside the cell's code (%sh, %fs, %run, a magic)
            line = cell.first_line
        message = (str(exc).strip().splitlines() or [""])[0][:500]
        error = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
        unavailable = delta.missing_module(exc)
        if unavailable is not None:
            error = str(unavailable)
        elif isinstance(exc, StreamlabError):
            error = str(exc)
        elif is_spark_error(exc):
            explained = translate(exc)
            if explained.known:
                error = explained.message
                if explained.error_class:
                    error += f" [{explained.error_class}]"
                if explained.code and frames:
                    line = self._operator_line(frames[-1], explained.code) or line
        where = f"cell {cell.number} (line {line} of {label})"
        tb = "".join(traceback.format_list(frames)) if frames else ""
        return _CellFailure(where, error, line, tb)

    def _operator_line(self, frame: traceback.FrameSummary, code: str) -> int | None:
        """Return the line of the failing statement (else of the code before) using ``code``.

        Spark raises at ``start()`` or ``join()``; the learner's mistake is the line that calls
        the operator involved (``countDistinct``), maybe in an earlier statement.
        """
        lines = self._sources.get(frame.filename, [])
        failing = frame.lineno or 0
        end = getattr(frame, "end_lineno", None) or failing
        pattern = re.compile(code)
        for number in range(failing, min(end, len(lines)) + 1):
            if pattern.search(lines[number - 1]):
                return number
        for number in range(failing - 1, 0, -1):
            text = lines[number - 1]
            if text.strip() and pattern.search(text) and not text.lstrip().startswith("#"):
                return number
        return None

    def _notebook_frames(self, tb: TracebackType | None) -> list[traceback.FrameSummary]:
        return [f for f in traceback.extract_tb(tb) if f.filename in self._labels]


def run_notebook(
    notebook: Notebook | str | Path,
    spark: SparkSession,
    root: str | Path | None = None,
    *,
    params: Mapping[str, str] | None = None,
    capture: bool = False,
    listener: RunListener | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run ``notebook`` with ``spark`` against the lab at ``root``; return what each cell did.

    >>> result = run_notebook(guide_notebook(), spark, "/tmp/lab")  # doctest: +SKIP
    >>> result.status  # doctest: +SKIP
    'ok'
    """
    runner = NotebookRunner(
        spark, root, params=params, capture=capture, listener=listener, timeout=timeout
    )
    return runner.run(notebook)


@contextlib.contextmanager
def notebook_session(
    root: str | Path | None = None, *, master: str | None = None, remote: str | None = None
) -> Iterator[SparkSession]:
    """Yield the lab's Spark session; stop it afterwards only if this call started it.

    ``master`` and ``remote`` choose a cluster or a Spark Connect server, as for
    :func:`streamlab.spark.session.lab_session`.
    """
    from pyspark.sql import SparkSession

    from streamlab.spark.session import lab_session

    existing = SparkSession.getActiveSession()
    spark = lab_session(root, master=master, remote=remote)
    try:
        yield spark
    finally:
        if existing is None and remote is None:
            spark.stop()
