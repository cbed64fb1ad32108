"""How a serving process logs: `advm run --log-format text|json`.

    configure("json", workers=True)   # in the server; its workers read ADVM_LOG_FORMAT

JSON logs are one object per line on standard error (python-json-logger's
formatter), with the fields `time` (ISO 8601, UTC), `level`, `logger` and
`message`, `exc_info` when the record has a traceback, `process` (the
worker's pid is not the server's), and any field the code adds with
`extra={...}` (spec/protocol.md 8.12). Text logs are logging's default
shape. The format is handed to worker processes in the environment variable
ADVM_LOG_FORMAT, which they inherit.
"""
from __future__ import annotations

import logging
import os
import sys
import time

ENV = "ADVM_LOG_FORMAT"
FORMATS = ("text", "json")
FIELDS = ("time", "level", "logger", "message", "process")


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    return JsonFormatter("{asctime}{levelname}{name}{message}{process}", style="{",
                         rename_fields={"asctime": "time", "levelname": "level",
                                        "name": "logger"},
                         datefmt="%Y-%m-%dT%H:%M:%SZ", json_ensure_ascii=False)


def configure(fmt: str, stream=None, *, workers: bool = False) -> logging.Handler:
    """Send the `advm` loggers (and anything else that logs) to `stream`
    (standard error) in format `fmt`, at INFO and above. `workers`: also set
    ADVM_LOG_FORMAT, so that worker processes started afterwards do the same."""
    if fmt not in FORMATS:
        raise ValueError(f"a log format is one of {', '.join(FORMATS)}")
    if workers:
        os.environ[ENV] = fmt
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        formatter = json_formatter()
    else:
        formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s",
                                      datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_advm", False)]:
        root.removeHandler(old)
    handler._advm = True
    root.addHandler(handler)
    logging.getLogger("advm").setLevel(logging.INFO)
    return handler


def configure_from_environment() -> None:
    """In a worker: log as the server that started it was told to."""
    fmt = os.environ.get(ENV)
    if fmt in FORMATS:
        configure(fmt)


__all__ = ["ENV", "FIELDS", "FORMATS", "configure", "configure_from_environment"]
