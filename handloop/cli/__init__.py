"""The ``handloop`` command: one table of subcommands, each a module with ``add_arguments`` and ``run``.

Subcommand modules import TensorFlow only inside ``run``, so ``handloop --help`` stays instant. Errors a user
can fix (a missing file, a malformed input, an unknown name, a bad option) are printed as one line and exit with
status 2. A command run with ``--json`` returns its JSON document from ``run``; :func:`main` prints it as the only
thing on stdout, strict JSON, and on an error prints ``{"error": "..."}`` there instead. Without ``-v/--verbose``
native libraries' start-up lines and converter chatter are kept off the terminal (:mod:`handloop.cli.console`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import warnings

COMMANDS: dict[str, str] = {
    "demo": "handloop.cli.demo",
    "compare": "handloop.cli.compare",
    "eval": "handloop.cli.eval",
    "data": "handloop.cli.data",
    "train": "handloop.cli.train",
    "predict": "handloop.cli.predict",
    "zoo": "handloop.cli.zoo_entries",
    "export": "handloop.cli.export_artefact",
    "bench": "handloop.cli.bench",
}
"""Subcommand name -> module holding ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``."""


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback."""


USER_ERRORS = (UserError, ValueError, FileNotFoundError, KeyError, OSError)
"""Exceptions reported as one line with exit status 2."""


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors raise :class:`UserError` (after printing the usage to stderr), so
    :func:`main` reports them like every other error, as JSON too under ``--json``."""

    def error(self, message):
        self.print_usage(sys.stderr)
        raise UserError(message)


def build_parser() -> argparse.ArgumentParser:
    """Returns the top-level parser with one sub-parser per entry of :data:`COMMANDS`."""
    parser = Parser(prog="handloop", description="3D hand pose from depth: the feedback loop zoo")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show TensorFlow's start-up lines, converter output and library warnings")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``handloop`` console script; returns the process exit status."""
    from handloop.cli.console import dumps

    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv
    try:
        status, document = run_quietly(argv, as_json)
    except Exception as error:  # a bug: the traceback follows on stderr, stdout still holds one document
        if as_json:
            print(dumps({"error": f"internal error: {type(error).__name__}: {error}"}), flush=True)
        raise
    if as_json:
        print(dumps(document), flush=True)
    return status


def run_quietly(argv: list[str], as_json: bool) -> tuple[int, object]:
    """Parses ``argv`` and runs its command; returns (exit status, its JSON document or ``{"error": ...}``).

    Unless ``-v/--verbose`` comes first, native start-up lines, library loggers and Keras' warnings are kept off
    the terminal; with ``as_json`` everything the command writes to stdout goes to stderr instead.
    """
    from handloop.cli import console

    with contextlib.ExitStack() as stack:
        if argv[:1] in (["-v"], ["--verbose"]):
            console.show_library_logs()
        else:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            stack.enter_context(console.quiet_native_stderr())
            stack.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", module=r"keras(\.|$)")
        if as_json:
            stack.enter_context(console.stdout_to_stderr())
        command = "handloop"
        try:
            args = build_parser().parse_args(argv)
            command = f"handloop {args.command}"
            result = args._run(args)
        except USER_ERRORS as error:
            message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
            print(f"{command}: error: {message}", file=sys.stderr)
            return 2, {"error": message}
    return (0, result) if as_json else (int(result or 0), None)


if __name__ == "__main__":
    sys.exit(main())
