"""Errors the engine reports to people.

Failures of a resource's work are never raised out of the engine: they
become the resource's error (see engine.py's error boundary). These two are
the exceptions: they end `ci`, or tell `up` what it cannot reach."""
from __future__ import annotations


class EngineFailure(Exception):
    """Ends `tiltpy ci` (or startup) with a non-zero exit: the message says which resource and why."""


class NotConnected(EngineFailure):
    """The Docker Engine, Compose or the cluster a resource needs is not connected."""
