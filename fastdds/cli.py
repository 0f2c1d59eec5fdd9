"""The ``fastdds`` command line.

Subcommands are discovered from the modules of ``fastdds.commands``: a module named
``solve_NAME`` or ``reproduce_NAME`` registers under ``fastdds solve`` / ``fastdds reproduce``,
any other (not starting with "_") at the top level. Each module defines
``register(subparsers)``, which adds its parser(s) and sets ``func`` to the function that runs.
Modules import their heavy dependencies inside that function, so ``fastdds --help`` is fast.
"""

import argparse
import importlib
import pkgutil
import signal
import sys
import threading

from . import __version__, commands

GROUPS = {"solve": "solve a PDE with a finite-difference scheme",
          "reproduce": "reproduce a published setup (writes JSON results and weights)"}


def build_parser():
    """The argparse parser with every discovered subcommand."""
    parser = argparse.ArgumentParser(prog="fastdds", description="fast discrete dynamical systems")
    parser.add_argument("--version", action="version", version=f"fastdds {__version__}")
    top = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    groups = {name: top.add_parser(name, help=text).add_subparsers(dest="target", metavar="TARGET", required=True)
              for name, text in GROUPS.items()}
    for mod in sorted(m.name for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")):
        group = mod.split("_", 1)[0]
        importlib.import_module(f"fastdds.commands.{mod}").register(groups.get(group, top))
    return parser


def parsers(parser, path=("fastdds",)):
    """Every (command path, parser) under `parser`, depth first, the leaves' paths e.g. ("fastdds", "solve",
    "burgers")."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from parsers(sub, path + (name,))


def deprecated_aliases(parser):
    """{alias: primary name} of the options whose help says "ALIAS is a deprecated alias"."""
    return {alias: action.option_strings[0] for _, p in parsers(parser) for action in p._actions
            for alias in action.option_strings[1:] if f"{alias} is a deprecated alias" in (action.help or "")}


def _warn_deprecated(parser, argv):
    aliases = deprecated_aliases(parser)
    for token in argv[:argv.index("--")] if "--" in argv else argv:
        name = token.split("=", 1)[0]
        if name in aliases:
            print(f"fastdds: note: {name} is a deprecated alias of {aliases[name]}", file=sys.stderr)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Entry point of the ``fastdds`` console script; returns the exit status.

    SIGTERM (``kill``, a batch scheduler's time limit or ``scancel``) is handled like Ctrl-C:
    training writes its checkpoint and the command exits with status 130.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    _warn_deprecated(parser, sys.argv[1:] if argv is None else list(argv))
    main_thread = threading.current_thread() is threading.main_thread()  # signals only go there
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        print("\ninterrupted; a run with checkpoints continues with the same command and --resume",
              file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError, MemoryError) as exc:
        print(f"fastdds {args.command}: error: {exc}", file=sys.stderr)
        return 2
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
