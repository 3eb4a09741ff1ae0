"""Command-line entry point: argument parsing only; each command lives in
its own module and returns an exit code."""
from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Sequence

from tiltpy import __version__


def _duration(text: str) -> float:
    """'90s', '30m', '1h', '1h30m' or plain seconds."""
    total, number = 0.0, ""
    units = {"s": 1, "m": 60, "h": 3600}
    for ch in text.strip():
        if ch.isdigit() or ch == ".":
            number += ch
        elif ch in units and number:
            total += float(number) * units[ch]
            number = ""
        else:
            raise argparse.ArgumentTypeError(f"invalid duration {text!r} (e.g. 90s, 30m, 1h)")
    if number:
        total += float(number)
    return total


def _terminal_width() -> int:
    """As shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    """argparse sizes its help through shutil, whose import (bz2, lzma and
    all) costs more than building every parser; ask os directly. Subparsers
    are of the same class."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        return self.formatter_class(prog=self.prog, width=_terminal_width() - 2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tiltpy", description="Tilt's inner development loop, in Python.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("-f", "--file", default="Tiltfile", help="path to the Tiltfile (default: ./Tiltfile)")
        p.add_argument("--context", default="", help="Kubernetes context (default: kubeconfig's current)")
        p.add_argument("--host", default=os.environ.get("TILTPY_HOST", "localhost"),
                       help="host for the web server and port-forwards (default: localhost)")
        p.add_argument("--port", type=int, default=int(os.environ.get("TILTPY_PORT", "10350")),
                       help="port for the web server (default: 10350; 0 disables it)")
        p.add_argument("--update-mode", choices=["auto", "docker", "exec"], default="auto",
                       help="how live updates reach containers (default: auto)")
        p.add_argument("resources", nargs="*", help="resources to run (default: all)")

    up = sub.add_parser("up", help="build, deploy and follow every resource")
    common(up)
    up.add_argument("--stream", action="store_true", help="stream all logs to the terminal")
    ci = sub.add_parser("ci", help="like up, but exit 0 once every resource is ready, non-zero on failure")
    common(ci)
    ci.add_argument("--timeout", type=_duration, default=None, help="give up after this long (default 30m)")
    down = sub.add_parser("down", help="delete what the Tiltfile deploys")
    down.add_argument("-f", "--file", default="Tiltfile")
    down.add_argument("--context", default="")
    sub.add_parser("version", help="print the version")
    from tiltpy.cli.control_args import add_parsers

    add_parsers(sub)  # trigger, logs, get, describe, enable, disable, args: talk to a running up
    alpha = sub.add_parser("alpha", help="experimental commands")
    alpha_sub = alpha.add_subparsers(dest="alpha_command", required=True)
    result = alpha_sub.add_parser("tiltfile-result", help="print the Tiltfile's manifests as JSON")
    result.add_argument("-f", "--file", default="Tiltfile")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    tiltfile_args: list[str] = []
    if "--" in argv:
        split = argv.index("--")
        argv, tiltfile_args = argv[:split], argv[split + 1:]
    args = _parser().parse_args(argv)
    try:
        if args.command == "version":
            print(f"tiltpy {__version__}")
            return 0
        if args.command in ("up", "ci"):
            from tiltpy.cli.up import run_up

            return run_up(tiltfile=args.file, mode=args.command, host=args.host, port=args.port,
                          resources=args.resources, tiltfile_args=tiltfile_args, context=args.context,
                          stream=getattr(args, "stream", True), timeout=getattr(args, "timeout", None),
                          update_mode=args.update_mode)
        from tiltpy.cli.control_args import COMMANDS

        if args.command in COMMANDS:
            from tiltpy.cli.control import run_control

            return run_control(args, tiltfile_args)
        if args.command == "down":
            from tiltpy.cli.down import run_down

            return run_down(tiltfile=args.file, context=args.context, tiltfile_args=tiltfile_args)
        if args.command == "alpha" and args.alpha_command == "tiltfile-result":
            from tiltpy.cli.tiltfile_result import run_tiltfile_result

            return run_tiltfile_result(tiltfile=args.file, tiltfile_args=tiltfile_args)
    except KeyboardInterrupt:
        return 130
    return 2


def run() -> None:
    """The `tiltpy` command: main(), with a dry load (`alpha tiltfile-result`,
    run by scripts and editors, maybe many times) started and ended fast: it
    makes little garbage, so the cyclic collector (~8 ms of passes over
    everything imported) is off, and nothing is left to do after its output,
    so the process ends without tearing the interpreter down (~13 ms)."""
    argv = sys.argv[1:]
    dry_load = argv[:2] == ["alpha", "tiltfile-result"]
    if dry_load:
        gc.disable()
    code = main(argv)
    if dry_load:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
        os._exit(code)
    sys.exit(code)
