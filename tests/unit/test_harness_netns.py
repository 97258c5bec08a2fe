"""The namespace helpers build a tiny two-host network that really carries packets."""

import os
import shutil
import subprocess
import sys

import pytest

from tests.harness.netns import Netns, run, veth

pytestmark = pytest.mark.dataplane


RECEIVE = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("10.250.0.2", 9999))
s.settimeout(8)
print(s.recv(100).decode())
"""
SEND = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(20):  # the receiver may not be bound yet: send until it surely is
    s.sendto(b"hello from a", ("10.250.0.2", 9999))
    time.sleep(0.1)
"""


@pytest.fixture(autouse=True)
def _need_root():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2")


def test_two_namespaces_ping_over_veth():
    with Netns() as a, Netns() as b:
        assert a.name.startswith(f"nq-{os.getpid()}-")
        veth("nqt-a", "nqt-b", a, b)
        a.run("ip", "addr", "add", "10.250.0.1/30", "dev", "nqt-a")
        b.run("ip", "addr", "add", "10.250.0.2/30", "dev", "nqt-b")
        # A UDP datagram from a to b (no ping: iputils is not in our package list).
        receiver = b.popen(sys.executable, "-c", RECEIVE, stdout=subprocess.PIPE, text=True)
        try:
            a.run(sys.executable, "-c", SEND)
            out, _ = receiver.communicate(timeout=10)
        finally:
            receiver.kill()
        assert out.strip() == "hello from a"
        name = a.name
    assert name not in run("ip", "netns", "list").stdout
