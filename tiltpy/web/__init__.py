"""The web server `tiltpy up` runs beside the engine: the dashboard (static
files shipped in this package), a JSON API of resources and logs, a
websocket pushing changes, and the control actions the CLI uses."""
