"""``streamlab quiz``: questions on the lab's own data, asked in a terminal or scored in scripts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import JsonOpt, RootOpt, emit, lab_paths, status, stdout_console
from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.lab.paths import LabPaths
    from streamlab.quiz import Question, Quiz
    from streamlab.quiz.prove import LabRun, Proven


class _Prover:
    """Proves questions on Spark, from the lab's own run, starting Spark on first use."""

    def __init__(self, paths: LabPaths, enabled: bool, show: bool) -> None:
        self.paths = paths
        self.enabled = enabled
        self.show = show
        self._run: LabRun | None = None
        if enabled:
            from streamlab.quiz.prove import check_ran

            check_ran(paths)  # before Spark starts: a lab that has not run is refused at once

    def __call__(self, question: Question) -> Proven | None:
        if not self.enabled or question.proof is None:
            return None
        from streamlab.quiz.prove import LabRun, prove

        if self._run is None:
            from streamlab.spark.session import lab_session

            with status("Starting Spark to read the lab's run...", show=self.show):
                self._run = LabRun(lab_session(self.paths.root), self.paths)
        with status(f"Asking Spark about {question.id}...", show=self.show):
            return prove(self._run, question)


def recorded_settings(paths: LabPaths) -> Any:
    """Return the pipelines' settings the lab's queries recorded at their first run.

    A lab run with other options (``streamlab lab --watermark-delay 5m``) gets a quiz about
    those; a lab that has not run gets the defaults, which ``streamlab lab`` will use.
    """
    from dataclasses import fields, replace

    import orjson

    from streamlab.pipelines.registry import QUERIES
    from streamlab.run.checkpoint import SETTINGS_FILE
    from streamlab.settings import PipelineConfig

    known = {f.name for f in fields(PipelineConfig)}
    chosen: dict[str, Any] = {}
    for spec in QUERIES:
        file = spec.checkpoint(paths) / SETTINGS_FILE
        if not file.exists():
            continue
        try:
            recorded = orjson.loads(file.read_bytes()).get("settings", {})
        except (OSError, orjson.JSONDecodeError, AttributeError) as exc:
            raise StreamlabError(
                f"{file} is damaged ({exc}): run 'streamlab reset {spec.pipeline}' and run it again"
            ) from exc
        chosen.update({k: v for k, v in recorded.items() if k in known})
    return replace(PipelineConfig(), **chosen)


def _in_terminal() -> bool:
    """Return whether the questions can be asked: standard input is a terminal."""
    return sys.stdin.isatty()


def _choices_text(q: Question) -> list[str]:
    from streamlab.quiz import LETTERS

    return [f"  {LETTERS[i]}  {c}" for i, c in enumerate(q.choices)]


def _show_question(console: Console, no: int, total: int, q: Question) -> None:
    kind = "about the lab's data" if q.about_data else "about the rules"
    console.print(f"\n[bold]Question {no} of {total}[/bold] · {q.concept} · {kind}")
    console.print(q.text)
    for line in _choices_text(q):
        console.print(line, markup=False)


def _show_answer(console: Console, q: Question, chosen: int | None, proven: Proven | None) -> None:
    from streamlab.quiz import LETTERS

    right = f"{q.letter}: {q.choices[q.answer]}"
    if chosen is None:
        console.print(f"[bold]Answer[/bold] {right}", highlight=False)
    elif chosen == q.answer:
        console.print(f"[green]Right[/green]: {right}", highlight=False)
    else:
        console.print(
            f"[red]Wrong[/red]: you chose {LETTERS[chosen]}; the answer is {right}", highlight=False
        )
    console.print(f"[dim]Why:[/dim] {q.explanation}", highlight=False)
    if proven is not None:
        if proven.agrees:
            verdict = f"[green]Spark agrees[/green] (its answer is {proven.letter})"
        else:
            verdict = (
                f"[red]Spark disagrees[/red] (its answer is {proven.letter or 'none of them'})"
            )
        console.print(f"{verdict}: {proven.evidence}", highlight=False)


def _answer_data(q: Question, chosen: int | None, proven: Proven | None) -> dict[str, Any]:
    from streamlab.quiz import LETTERS

    data = q.to_dict(reveal=True)
    if chosen is not None:
        data["chosen"] = LETTERS[chosen]
        data["right"] = chosen == q.answer
    if proven is not None:
        data["spark"] = proven.to_dict()
    return data


def _ask_letter(console: Console, q: Question) -> int:
    """Ask for one answer: arrow keys and Enter on a terminal that allows it, else a letter."""
    from streamlab.quiz import LETTERS

    letters = LETTERS[: len(q.choices)]
    picked = _arrow_pick(console, q)
    if picked is not None:
        return picked
    from rich.prompt import Prompt

    for line in _choices_text(q):
        console.print(line, markup=False)
    while True:
        text = Prompt.ask(f"Your answer ({'/'.join(letters)})", console=console).strip().upper()
        if len(text) == 1 and text in letters:
            return letters.index(text)
        console.print(f"Type one letter from A to {letters[-1]}.")


def _arrow_pick(console: Console, q: Question) -> int | None:
    """Let the learner move with the arrow keys and pick with Enter or a letter.

    Returns ``None`` where the terminal cannot be put in raw mode (then a prompt asks).
    """
    try:
        import termios
        import tty
    except ImportError:  # not a POSIX terminal
        return None
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return None
    from streamlab.quiz import LETTERS

    fd = sys.stdin.fileno()
    try:
        old = termios.tcgetattr(fd)
    except termios.error:
        return None
    n = len(q.choices)
    at = 0
    out = sys.stdout

    def draw(first: bool) -> None:
        if not first:
            out.write(f"\x1b[{n}A")
        for i, c in enumerate(q.choices):
            mark = "\x1b[7m>" if i == at else " "
            out.write(f"\r\x1b[2K{mark} {LETTERS[i]}  {c}\x1b[0m\n")
        out.flush()

    console.print("[dim]Up/Down and Enter, or type a letter:[/dim]")
    draw(True)
    try:
        tty.setcbreak(fd)
        while True:
            key = sys.stdin.read(1)
            if key == "\x1b":
                rest = sys.stdin.read(2)
                if rest in ("[A", "OA"):
                    at = (at - 1) % n
                elif rest in ("[B", "OB"):
                    at = (at + 1) % n
                draw(False)
            elif key in ("\r", "\n"):
                return at
            elif key.upper() in LETTERS[:n]:
                at = LETTERS.index(key.upper())
                draw(False)
                return at
            elif key == "\x03":
                raise KeyboardInterrupt
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)


def _interactive(quiz: Quiz, prover: _Prover) -> list[int]:
    console = stdout_console()
    console.print(
        f"[bold]streamlab quiz[/bold]: {len(quiz.questions)} questions, "
        f"{quiz.pass_mark} right answers pass (seed {quiz.seed})."
    )
    chosen: list[int] = []
    for no, q in enumerate(quiz.questions, start=1):
        kind = "about the lab's data" if q.about_data else "about the rules"
        console.print(
            f"\n[bold]Question {no} of {len(quiz.questions)}[/bold] · {q.concept} · {kind}"
        )
        console.print(q.text)
        pick = _ask_letter(console, q)
        chosen.append(pick)
        _show_answer(console, q, pick, prover(q))
    return chosen


def register(app: typer.Typer) -> None:
    """Add the ``quiz`` command to ``app``."""

    @app.command("quiz")
    def quiz_command(
        answers: Annotated[
            str | None,
            typer.Option(
                "--answers",
                help="Answer without asking, one letter per question: B,A,C,... (scored, saved).",
            ),
        ] = None,
        reveal: Annotated[
            bool, typer.Option("--reveal", help="Show every answer and its explanation.")
        ] = False,
        prove: Annotated[
            bool,
            typer.Option(
                "--prove",
                help="Show, for each question on the lab's data, Spark's own answer from the "
                "lab's run (needs 'streamlab lab' first).",
            ),
        ] = False,
        seed: Annotated[
            int | None,
            typer.Option("--seed", help="Pick other questions [default: the lab's own seed]."),
        ] = None,
        root: RootOpt = None,
        json_mode: JsonOpt = False,
    ) -> int:
        """Take the quiz: multiple-choice questions on the lab's own data; 80% passes.

        In a terminal it asks each question, then shows the answer and why. --answers scores
        a script's answers; --json prints the questions without their answers; --reveal shows
        the answers. The score is saved in <root>/exercises/progress.json. Exit status 1 when
        the quiz is failed (or Spark disagrees with an answer under --prove).
        """
        from streamlab.quiz import build_quiz, lab_seed, parse_answers, save_score, score

        paths = lab_paths(root)
        lab_seed(paths)  # a root without a lab is refused first, with the command to run
        if seed is not None and seed < 0:
            raise StreamlabError(f"--seed {seed} is negative: give a seed of 0 or more")
        interactive = answers is None and not reveal and not json_mode
        if interactive and not _in_terminal():
            raise StreamlabError(
                "no terminal to ask the questions in: pass --answers B,A,C,... (one letter per "
                "question), --json for the questions, or --reveal for the answers"
            )
        if prove and json_mode and answers is None and not reveal:
            raise StreamlabError("--prove shows Spark's answers: add --reveal or --answers")
        quiz = build_quiz(paths, seed, recorded_settings(paths))
        chosen = parse_answers(answers, quiz) if answers is not None else None
        prover = _Prover(paths, prove, show=not json_mode)
        if interactive:
            chosen = _interactive(quiz, prover)
            result = score(quiz, chosen)
            _summary(stdout_console(), save_score(paths, result))
            return 0 if result.passed else 1
        if chosen is None and not reveal:  # --json: the questions, answers hidden
            emit(quiz.to_dict(reveal=False), True)
            return 0
        proofs = [prover(q) for q in quiz.questions]
        disagree = [p.question for p in proofs if p is not None and not p.agrees]
        items = [
            _answer_data(q, None if chosen is None else chosen[i], proofs[i])
            for i, q in enumerate(quiz.questions)
        ]
        data: dict[str, Any] = {**quiz.to_dict(reveal=True), "questions": items}
        if prove:
            data["spark_disagrees"] = disagree
        entry: dict[str, Any] | None = None
        if chosen is not None:
            entry = save_score(paths, score(quiz, chosen))
            data["result"] = entry

        def render(console: Console) -> None:
            for no, q in enumerate(quiz.questions, start=1):
                _show_question(console, no, len(quiz.questions), q)
                _show_answer(console, q, None if chosen is None else chosen[no - 1], proofs[no - 1])
            if prove:
                proven = [p for p in proofs if p is not None]
                agree = sum(p.agrees for p in proven)
                console.print(
                    f"\nSpark agrees with {agree} of {len(proven)} answers on the lab's data."
                )
            if entry is not None:
                _summary(console, entry)

        emit(data, json_mode, render)
        failed = entry is not None and not entry["passed"]
        return 1 if failed or disagree else 0


def _summary(console: Console, entry: dict[str, Any]) -> None:
    verdict = "[green]passed[/green]" if entry["passed"] else "[red]not passed[/red]"
    console.print(
        f"\nScore: {entry['score']} of {entry['of']}: {verdict} "
        f"({entry['pass_mark']} needed). Saved in exercises/progress.json."
    )
