"""Several local hosts at once, each `python -m devhost` in a process of its own, on one
database and one storage account, as scaled-out instances of the app run: the blob
trigger handles each picture once between them, and first requests that race on an empty
database migrate it once."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import psycopg
import requests

from shared.db.migrate import migration_files
from tests.conftest import principal_header
from tests.support import images as samples
from tests.support.host_process import HostProcess
from tests.support.triggers import container, default_folder, put_picture, row

HOSTS = 3


def start_hosts(*args: str, env: dict[str, str] | None = None) -> list[HostProcess]:
    with ThreadPoolExecutor(HOSTS) as pool:
        return list(pool.map(lambda _: HostProcess(*args, env=env), range(HOSTS)))


def stop_hosts(hosts: list[HostProcess]) -> None:
    with ThreadPoolExecutor(HOSTS) as pool:
        list(pool.map(HostProcess.stop, hosts))


def test_each_picture_is_handled_once_between_hosts(app, client):
    owner = default_folder(app, client)
    before = [put_picture(app, owner, samples.picture(40 + n, 30)) for n in range(8)]
    hosts = start_hosts("--blob-poll", "1")
    try:
        after = [put_picture(app, owner, samples.picture(40 + n, 30)) for n in range(8)]
        blobs = before + after
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all("checks" in row(app, b).metadata for b in blobs):
            time.sleep(0.2)
        assert all(row(app, b).metadata["checks"]["status"] == "ok" for b in blobs)
    finally:
        stop_hosts(hosts)
    # Every host saw every picture; each picture was tried once in all, by one host or another.
    attempts = Counter(m.group(1, 2) for host in hosts
                       for m in re.finditer(r"process_picture: attempt (\d+) on (\S+)", host.log()))
    assert sorted(attempts) == sorted(("1", f"{app.pictures_container}/{b}") for b in blobs)
    assert set(attempts.values()) == {1}
    receipts = container(app, "azure-webjobs-hosts").list_blobs(
        name_starts_with=f"blobreceipts/process_picture/{app.pictures_container}/", include=["metadata"])
    states = [(r.metadata["state"], r.metadata["attempts"]) for r in receipts]
    assert states == [("done", "1")] * len(blobs)


def test_first_requests_racing_on_an_empty_database_migrate_it_once(app, services):
    dbname = f"empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname}")
    try:
        # As in Azure, the hosts leave the migrations to the app's first request.
        hosts = start_hosts("--no-migrate", env={"NACHET_DB_URL": services.db_url(dbname)})
        try:
            start = threading.Barrier(HOSTS)

            def first_request(host: HostProcess) -> requests.Response:
                email = f"first-{uuid.uuid4().hex[:8]}@example.org"
                start.wait(timeout=30)
                return requests.post(f"{host.base_url}/get-user-id", json={"email": ""}, timeout=60,
                                     headers={"X-MS-CLIENT-PRINCIPAL": principal_header(email)})

            with ThreadPoolExecutor(HOSTS) as pool:
                answers = list(pool.map(first_request, hosts))
        finally:
            stop_hosts(hosts)
        assert [r.status_code for r in answers] == [200] * HOSTS, [r.text for r in answers]
        assert len({r.json()["user_id"] for r in answers}) == HOSTS
        with psycopg.connect(services.direct_url(dbname)) as conn:
            applied = conn.execute("SELECT version FROM nachet.schema_version ORDER BY version").fetchall()
        assert [v for (v,) in applied] == [v for v, _ in migration_files()]
        logged = [line for host in hosts for line in host.log().splitlines() if "applied migration" in line]
        assert len(logged) == len(migration_files())
    finally:
        with psycopg.connect(services.admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
