"""A streaming query's analyzed logical plan, parsed from Spark's text into a tree of nodes.

The text is Spark's own ``LogicalPlan.toString`` (classic: ``queryExecution().analyzed()``;
Spark Connect: the "Analyzed Logical Plan" section of ``explain(extended=True)``), so the same
parser serves local, cluster and Connect sessions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from streamlab.errors import StreamlabError

_PREFIX = re.compile(r"^((?:[ :]  )*)(?:[+:]- )?")
_ID = re.compile(r"#\d+L?(?:-T\d+ms)?")


@dataclass
class Node:
    """One plan operator: its name, the rest of its line, and its children."""

    name: str
    """The operator, such as ``Aggregate`` or ``EventTimeWatermark``."""
    args: str
    """The rest of the operator's line."""
    children: list[Node] = field(default_factory=list)
    """Its inputs, in order."""

    def child(self) -> Node:
        """Return the only child (an operator with one input)."""
        if len(self.children) != 1:
            raise StreamlabError(f"plan operator {self.name} has {len(self.children)} inputs")
        return self.children[0]

    def lists(self) -> list[list[str]]:
        """Return the bracketed lists at the start of ``args``, each split at top-level commas."""
        out: list[list[str]] = []
        rest = self.args.strip()
        while rest.startswith("["):
            end = _closing(rest, 0)
            out.append(split_top(rest[1:end]))
            rest = rest[end + 1 :].lstrip(", ")
        return out


def parse(text: str) -> Node:
    r"""Parse one plan's text into its root node.

    >>> root = parse("~Project [a#1]\n+- ~Filter (a#1 > 0)\n   +- LocalRelation [a#1]")
    >>> root.name, root.child().name, root.child().child().args
    ('Project', 'Filter', '[a#1]')
    """
    stack: list[tuple[int, Node]] = []
    root: Node | None = None
    for raw in text.splitlines():
        if not raw.strip():
            continue
        m = _PREFIX.match(raw)
        assert m is not None
        depth = len(m.group(0)) // 3
        body = raw[m.end() :].lstrip("~").strip()
        if not body or body.startswith("=="):
            continue
        name, _, args = body.partition(" ")
        node = Node(name, args)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            break
        stack.append((depth, node))
    if root is None:
        raise StreamlabError("the query's plan is empty")
    return root


def analyzed_text(df: Any) -> str:
    """Return the analyzed logical plan of ``df`` as Spark prints it."""
    jdf = getattr(df, "_jdf", None)
    if jdf is not None:
        return str(jdf.queryExecution().analyzed().toString())
    explain = getattr(df, "_explain_string", None)
    if explain is None:
        raise StreamlabError("this DataFrame cannot show its plan: ModelAnswer needs Spark's plan")
    text = str(explain(extended=True))
    m = re.search(r"== Analyzed Logical Plan ==\n(.*?)(?:\n== |\Z)", text, re.DOTALL)
    if m is None:
        raise StreamlabError("Spark's explain output has no analyzed plan: ModelAnswer needs it")
    lines = m.group(1).splitlines()
    # The analyzed section starts with the output schema line ("a: int, b: string").
    if lines and not lines[0].lstrip().startswith(("~", "'")) and ": " in lines[0]:
        lines = lines[1:]
    return "\n".join(lines)


def split_top(text: str) -> list[str]:
    """Split ``text`` at commas outside parentheses, brackets and quotes.

    >>> split_top("a#1, f(b#2, c#3) AS x#4, 'q, r'")
    ['a#1', 'f(b#2, c#3) AS x#4', "'q, r'"]
    """
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        out.append(tail)
    return out


def name_of(attr: str) -> str:
    """Return the column name of an attribute reference: ``event_time#0-T10000ms`` -> name.

    >>> name_of("event_time#0-T10000ms"), name_of("sum(v)#10L")
    ('event_time', 'sum(v)')
    """
    return _ID.sub("", attr.strip()).strip("`")


def is_attr(expr: str) -> bool:
    """Return whether ``expr`` is a bare attribute reference such as ``k#1``."""
    return re.fullmatch(r"[^\s()]+#\d+L?(?:-T\d+ms)?", expr.strip()) is not None


def alias(expr: str) -> tuple[str, str]:
    """Split ``expr AS name#id`` into ``(expr, name)``; a bare attribute aliases itself."""
    text = expr.strip()
    depth, cut = 0, -1
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(" AS ", i):
            cut = i
    if cut >= 0 and re.search(r"#\d+L?(?:-T\d+ms)?$", text):
        return text[:cut].strip(), name_of(text[cut + 4 :])
    return text, name_of(text)


def strip_parens(text: str) -> str:
    """Remove parentheses that enclose all of ``text``."""
    text = text.strip()
    while text.startswith("(") and _closing(text, 0) == len(text) - 1:
        text = text[1:-1].strip()
    return text


def split_and(cond: str) -> list[str]:
    """Split a condition into its top-level ``AND`` conjuncts (``between`` into two).

    >>> split_and("((a#1 = b#2) AND between(t#3, x#4, y#5))")
    ['a#1 = b#2', 't#3 >= x#4', 't#3 <= y#5']
    """
    cond = strip_parens(cond)
    m = re.fullmatch(r"between\((.*)\)", cond, re.DOTALL)
    if m:
        args = split_top(m.group(1))
        if len(args) == 3:
            return [f"{args[0]} >= {args[1]}", f"{args[0]} <= {args[2]}"]
    parts, depth, start, i = [], 0, 0, 0
    while i < len(cond):
        ch = cond[i]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and cond.startswith(" AND ", i):
            parts.append(cond[start:i])
            start = i + 5
            i += 4
        i += 1
    parts.append(cond[start:])
    if len(parts) == 1:
        return [strip_parens(parts[0])]
    return [c for p in parts for c in split_and(p)]


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth -= 1
            if depth == 0:
                return i
    raise StreamlabError(f"unbalanced plan text: {text[:80]!r}")
