"""Errors raised by builtins. The Starlark interpreter shows them at the
Tiltfile call site (file:line:col), so the message only needs to say what was
wrong with which argument."""
from __future__ import annotations


class TiltfileError(Exception):
    """A mistake in the Tiltfile: shown to the user without a Python traceback."""


class TiltfileExit(Exception):
    """Raised by exit(): stops evaluation; the load succeeds when code is 0."""

    def __init__(self, code: int) -> None:
        super().__init__(f"exit({code})")
        self.code = code


def arg_error(builtin: str, param: str, message: str) -> TiltfileError:
    return TiltfileError(f'{builtin}: for parameter "{param}": {message}')
