"""The ``handloop`` command: one table of subcommands, each a module with ``add_arguments`` and ``run``.

Subcommand modules import TensorFlow only inside ``run``, so ``handloop --help`` stays instant. Errors a user
can fix (a missing file, a malformed input, an unknown name) are printed as one line and exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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


def build_parser() -> argparse.ArgumentParser:
    """Returns the top-level parser with one sub-parser per entry of :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="handloop", description="3D hand pose from depth: the feedback loop zoo")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``handloop`` console script; returns the process exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, KeyError, OSError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"handloop {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
