"""A throwaway PostgreSQL server for the tests and benchmarks: initdb into a
temporary folder, `pg_ctl -w start` on 127.0.0.1 at a free port, stop and
remove it at the end. Debian's postgresql (/usr/lib/postgresql/N/bin) or
whatever `initdb` is on PATH. As root, the server runs as user postgres (it
refuses to run as root), which then owns the data folder."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid


def bin_dir() -> str | None:
    """The folder of initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One PostgreSQL server; `url(schema)` names a store in it. `fsync`
    False is for the tests (what they check is logic, not the disk);
    benchmarks keep it on."""

    def __init__(self, *, fsync: bool = True):
        where = bin_dir()
        if where is None:
            raise FileNotFoundError("PostgreSQL is not installed (no initdb): apt-get install "
                                    "postgresql")
        self.bin = where
        self.root = tempfile.mkdtemp(prefix="advm-pg-")
        self.data = os.path.join(self.root, "data")
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
            os.makedirs(self.data)
            shutil.chown(self.data, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-instructions")
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories="
                   f"{self.data} -c max_connections=200 -c fsync={'on' if fsync else 'off'}")
        self._run("pg_ctl", "-D", self.data, "-w", "-t", "60", "-o", options,
                  "-l", os.path.join(self.data, "server.log"), "start")

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self.as_user, os.path.join(self.bin, tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    @property
    def base(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, schema: str | None = None, **query) -> str:
        """A store URL; each new schema is a store of its own (a fresh name by default)."""
        schema = schema or "t_" + uuid.uuid4().hex[:12]
        rest = "".join(f"&{k}={v}" for k, v in query.items())
        return f"{self.base}?schema={schema}{rest}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
