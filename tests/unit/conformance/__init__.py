"""Conformance with Tilt v0.32.4's Tiltfile behaviour, area by area.

Each test pins a behaviour one of tilt-dev/tilt's internal/tiltfile tests
pins (named in the test's docstring); the tests are tiltpy's own code. The
areas covered and the known differences are in docs/TILT-CONFORMANCE.md."""
