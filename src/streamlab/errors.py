"""Errors a user can cause, reported as one line with exit status 2."""

from __future__ import annotations


class StreamlabError(Exception):
    """A problem with the user's input or environment, with the fix in its message.

    The CLI prints the message as one line and exits with status 2; ``--debug`` adds the
    traceback. Library callers catch it like any other exception.
    """

    exit_code = 2


class LabNotReadyError(StreamlabError):
    """The lab root lacks something a command needs (run ``streamlab setup`` first)."""
