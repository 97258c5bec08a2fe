"""Run tc, ip and nft in a network namespace: one process per tool per change set.

`tc -batch -force` keeps going past a failing line and names it ("Command failed -:N"), so a
failure is pinned on the port that owns the line. nft is one atomic transaction.
"""
from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

_FAILED = re.compile(r"Command failed -:(\d+)")


@dataclass
class BatchResult:
    failed_lines: dict[int, str] = field(default_factory=dict)   # 1-based line -> error text
    ok: bool = True


class Runner:
    def __init__(self, netns: str | None = None):
        self.netns = netns

    def _argv(self, tool: str, *args: str) -> list[str]:
        if tool in ("tc", "ip"):
            return [tool, *(("-n", self.netns) if self.netns else ()), *args]
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, tool, *args]

    def run(self, tool: str, *args: str, stdin: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(self._argv(tool, *args), input=stdin, capture_output=True,
                              text=True, check=check)

    def batch(self, tool: str, lines: list[str]) -> BatchResult:
        """`tc|ip -force -batch -`: every line runs; failures are reported by line number."""
        if not lines:
            return BatchResult()
        proc = self.run(tool, "-force", "-batch", "-", stdin="\n".join(lines) + "\n")
        result = BatchResult(ok=proc.returncode == 0)
        errors = proc.stderr.splitlines()
        for i, text in enumerate(errors):
            if m := _FAILED.search(text):
                reason = next((e for e in reversed(errors[:i]) if e and not _FAILED.search(e)),
                              text)
                result.failed_lines[int(m.group(1))] = reason
        if not result.ok and not result.failed_lines:
            result.failed_lines[0] = proc.stderr.strip() or f"{tool} exit {proc.returncode}"
        return result

    def nft(self, lines: list[str]) -> str | None:
        """One atomic nft transaction; None on success, the error text otherwise."""
        if not lines:
            return None
        proc = self.run("nft", "-f", "-", stdin="\n".join(lines) + "\n")
        return None if proc.returncode == 0 else (proc.stderr.strip() or "nft failed")

    def nft_ruleset(self) -> dict:
        proc = self.run("nft", "-j", "-n", "list", "ruleset", check=True)
        return json.loads(proc.stdout or "{}")

    def tc_text(self, *args: str) -> str:
        proc = self.run("tc", *args)
        return proc.stdout if proc.returncode == 0 else ""

    def ip_json(self, *args: str) -> list:
        proc = self.run("ip", "-j", *args, check=True)
        return json.loads(proc.stdout or "[]")

    def tc_json(self, *args: str) -> list:
        proc = self.run("tc", "-j", *args)
        if proc.returncode != 0 or not proc.stdout.strip():
            return []
        return json.loads(proc.stdout)
