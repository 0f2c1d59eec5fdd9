"""Subcommands of the ``fastdds`` CLI, one module each (see ``fastdds.cli``)."""
