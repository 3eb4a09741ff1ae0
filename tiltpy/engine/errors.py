"""Errors the engine reports to people.

Failures of a resource's work are never raised out of the engine: they
become the resource's error (see engine.py's error boundary). These two are
the exceptions: they end `ci`, or tell `up` what it cannot reach."""
from __future__ import annotations


class EngineFailure(Exception):
    """Ends `tiltpy ci` (or startup) with a non-zero exit: the message says which resource and why."""


class NotConnected(EngineFailure):
    """The Docker Engine, Compose or the cluster a resource needs is not connected."""


def expected_failures() -> tuple[type[BaseException], ...]:
    """Failures of the user's build, deploy or commands, or of the machine
    (shown as they are). Any other exception is a bug: shown with its type,
    its traceback in the log at debug level."""
    from tiltpy.compose.cli import ComposeFailure
    from tiltpy.engine.local_runner import CommandFailure
    from tiltpy.image.docker_builder import BuildFailure
    from tiltpy.k8s.client import ClusterError
    from tiltpy.liveupdate.updaters import RunFailure, UpdateFailure

    return (BuildFailure, ClusterError, EngineFailure, ComposeFailure, CommandFailure, RunFailure, UpdateFailure,
            OSError)


def describe_failure(err: BaseException) -> str:
    if isinstance(err, expected_failures()):
        return str(err) or type(err).__name__
    return f"internal error ({type(err).__name__}: {err})"
