"""Debian's PgBouncer in transaction mode in front of the tests' PostgreSQL, where each
transaction of a client may get another server connection (as behind Azure's built-in
PgBouncer): tests/test_pgbouncer.py runs its own, and NACHET_TEST_PGBOUNCER=1 puts the whole
suite's app behind one (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from devhost.services import free_port, port_open

PGBOUNCER = "/usr/sbin/pgbouncer"


@dataclass
class PgBouncer:
    """A running PgBouncer: url(dbname) reaches that database of the server through it."""

    port: int
    process: subprocess.Popen[bytes]

    def url(self, dbname: str) -> str:
        return make_conninfo(host="127.0.0.1", port=self.port, user="postgres", dbname=dbname)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def start_pgbouncer(admin_url: str, work: Path, *, pool_size: int) -> PgBouncer:
    """PgBouncer in transaction mode before the server of `admin_url` (reached on its Unix
    socket), with `pool_size` server connections per database, its files in `work`."""
    socket_dir = conninfo_to_dict(admin_url)["host"]
    assert isinstance(socket_dir, str)
    # PgBouncer refuses to run as root: it runs as nobody, which must reach the socket.
    as_root = os.geteuid() == 0
    if as_root:
        for folder in (Path(socket_dir), *Path(socket_dir).parents):
            folder.chmod(folder.stat().st_mode | 0o005)
    work.mkdir(parents=True, exist_ok=True)
    work.chmod(0o777)
    port = free_port()
    (work / "users.txt").write_text('"postgres" ""\n')
    (work / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={socket_dir}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {work}/users.txt\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
        "ignore_startup_parameters = extra_float_digits,options\n"
    )
    user = ["-u", "nobody"] if as_root else []
    process = subprocess.Popen([PGBOUNCER, *user, str(work / "pgbouncer.ini")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not port_open(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"PgBouncer did not start on port {port} (see {work}/pgbouncer.ini)")
        time.sleep(0.05)
    return PgBouncer(port, process)
