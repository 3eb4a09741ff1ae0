"""The parsers of the commands that talk to a running `up` (trigger, logs,
get, describe, enable, disable, args). Kept apart from control.py, which
imports an HTTP client and the terminal's status rules: main builds these
parsers for every command, `alpha tiltfile-result` included."""
from __future__ import annotations

import argparse
import os
from typing import Any

COMMANDS = ("trigger", "logs", "get", "describe", "enable", "disable", "args")


def add_parsers(sub: Any) -> None:
    """Register the control subcommands on main's subparsers."""

    def conn(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default=os.environ.get("TILTPY_HOST", "localhost"),
                       help="host of the running `tiltpy up` (default: localhost)")
        p.add_argument("--port", type=int, default=int(os.environ.get("TILTPY_PORT", "10350")),
                       help="port of the running `tiltpy up` (default: 10350)")

    p = sub.add_parser("trigger", help="trigger an update of a resource in the running up")
    p.add_argument("names", nargs="+", metavar="RESOURCE")
    conn(p)
    p = sub.add_parser("logs", help="print the logs of the running up")
    p.add_argument("names", nargs="*", metavar="RESOURCE", help="resources (default: all)")
    p.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    p.add_argument("--source", choices=["all", "build", "runtime"], default="all")
    p.add_argument("--tail", type=int, default=0, help="only the last N lines kept")
    conn(p)
    p = sub.add_parser("get", help="list resources (or Tilt API objects: get cmd, get uibutton, ...) of the running up")
    p.add_argument("names", nargs="*", metavar="[KIND] NAME")
    p.add_argument("-o", "--output", choices=["table", "wide", "json", "yaml", "name"], default="table")
    conn(p)
    p = sub.add_parser("describe", help="show everything about resources of the running up")
    p.add_argument("names", nargs="*", metavar="[resource] NAME")
    conn(p)
    for verb in ("enable", "disable"):
        p = sub.add_parser(verb, help=f"{verb} resources in the running up")
        p.add_argument("names", nargs="*", metavar="RESOURCE")
        p.add_argument("--all", action="store_true", help=f"{verb} every resource")
        p.add_argument("-l", "--labels", action="append", default=[], help=f"{verb} resources with this label")
        conn(p)
    p = sub.add_parser("args", help="set the running up's Tiltfile args: tiltpy args -- ARGS...")
    p.add_argument("values", nargs="*", metavar="ARG")
    p.add_argument("--clear", action="store_true", help="set no args")
    conn(p)
