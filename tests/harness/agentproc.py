"""`netqos agent` as operators run it, as a test's child process."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.util import kill_process, stop_process

NETQOS = str(Path(sys.executable).parent / "netqos")


class AgentProcess:
    """`netqos agent --server URL --host H [--netns NS] --poll-interval 0.3 …`; `extra`
    adds options (--metrics-bind, --counters-interval, a backend's). Output goes to `log`."""

    def __init__(self, server_url: str, host: str, netns: str | None, log: Path,
                 resync: float = 3, env: dict | None = None, extra: tuple[str, ...] = ()):
        self.host = host
        self.argv = [NETQOS, "agent", "--server", server_url, "--host", host,
                     *(("--netns", netns) if netns else ()),
                     "--poll-interval", "0.3", "--resync-interval", str(resync), *extra]
        self.log = log
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> "AgentProcess":
        # Its own process group, so a kill takes its tc/nft children too, as a crash of
        # the agent's service (cgroup) does.
        self.proc = subprocess.Popen(self.argv, stdout=open(self.log, "ab"),
                                     stderr=subprocess.STDOUT, env=self.env,
                                     start_new_session=True)
        return self

    def kill(self) -> None:
        if self.proc:
            kill_process(self.proc)

    def stop(self) -> None:
        if self.proc:
            stop_process(self.proc)
