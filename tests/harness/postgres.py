"""A private PostgreSQL server for the tests.

It runs from Debian's binaries (/usr/lib/postgresql/<version>/bin) in a temporary
data directory, listens on 127.0.0.1 on a free port, keeps its unix socket in the
temporary directory (so it never clashes with a distro cluster) and has fsync off:
the data is thrown away anyway.

PostgreSQL refuses to run as root, so when we are root (as in CI) every server
command runs as the `postgres` OS user that the Debian package creates.
"""

from __future__ import annotations

import atexit
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

from .util import free_port, tail

USER = "netqos"
DATABASE = "netqos"


def find_bindir() -> Path | None:
    """The bin directory of the newest installed PostgreSQL, or None."""
    found = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    if found:
        # Sort by major version number, not as text ("9" > "15" as text).
        found.sort(key=lambda p: int(Path(p).parent.parent.name.split(".")[0]))
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class PostgresServer:
    """start() / stop() a throwaway PostgreSQL; .url is a SQLAlchemy URL for psycopg 3."""

    def __init__(self, bindir: Path | None = None):
        self.bindir = bindir or find_bindir()
        if self.bindir is None:
            raise FileNotFoundError(
                "PostgreSQL server binaries not found (apt-get install postgresql)"
            )
        self.password = secrets.token_hex(8)
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self._dbcount = 0

    # -- the server process -------------------------------------------------

    def _as_owner(self, argv: list[str]) -> list[str]:
        """Run argv as the `postgres` OS user when we are root."""
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, *argv: str, timeout: float = 60) -> None:
        cmd = self._as_owner([str(self.bindir / argv[0]), *argv[1:]])
        # cwd: the postgres user may not be allowed into the caller's directory.
        res = subprocess.run(cmd, cwd=self.tmpdir, capture_output=True, text=True, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:2])} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}"
                f"\n--- server log ---\n{tail(self.logfile)}"
            )

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "postgres.log"

    def start(self) -> "PostgresServer":
        if self.tmpdir is None:
            self._init()
        for attempt in range(3):
            # The port is only checked free, not reserved: retry on a lost race.
            self.port = free_port()
            try:
                self._run("pg_ctl", "start", "-w", "-t", "60", "-D", str(self.datadir),
                          "-l", str(self.logfile), "-o", f"-p {self.port}")
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        self._ensure_database(DATABASE)
        return self

    def _init(self) -> None:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="nq-pg-"))
        atexit.register(self.stop)  # a crashed test run must not leave a server behind
        pwfile = self.tmpdir / "pw"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.tmpdir, "postgres")
            shutil.chown(pwfile, "postgres")
        # The test user is the superuser, so tests may create databases; password
        # (scram) over TCP, as a real deployment would be; trust on the private socket.
        self._run("initdb", "-D", str(self.datadir), "-U", USER, f"--pwfile={pwfile}",
                  "--auth-host=scram-sha-256", "--auth-local=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")
        pwfile.unlink()
        # Appending keeps the file's owner (postgres).
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# netqos test harness\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.tmpdir}'\n"
                "fsync = off\n"
                "synchronous_commit = off\n"
                "full_page_writes = off\n"
                "max_connections = 300\n"
                "log_min_messages = warning\n"
            )

    def stop(self) -> None:
        """Stop the server and delete its data. Safe to call twice."""
        if self.tmpdir is None:
            return
        if (self.datadir / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "stop", "-m", "fast", "-w", "-t", "30", "-D", str(self.datadir))
            except (RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.datadir))
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- URLs and databases -------------------------------------------------

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of one database on this server."""
        return f"postgresql+psycopg://{USER}:{self.password}@127.0.0.1:{self.port}/{database}"

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def conninfo(self, database: str = DATABASE) -> str:
        """libpq connection string, for psycopg.connect()."""
        return f"host=127.0.0.1 port={self.port} user={USER} password={self.password} dbname={database}"

    def _ensure_database(self, name: str) -> None:
        import psycopg  # a dependency of netqos itself

        # CREATE DATABASE cannot run inside a transaction: autocommit.
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def fresh_database(self, prefix: str = "nq") -> str:
        """Create a new empty database and return its SQLAlchemy URL."""
        self._dbcount += 1
        name = f"{prefix}_{os.getpid()}_{self._dbcount}"
        self._ensure_database(name)
        return self.url_for(name)
