"""The `advm` subcommands, one module each; `advm.cli` lists them in its table.

Each module exports `COMMAND` (a base.Command row) and imports the compiler
and the VM inside its `run`, so `advm --help` and `advm --version` start
without loading either.
"""
