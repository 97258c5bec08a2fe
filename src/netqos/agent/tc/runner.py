"""Run tc, ip and nft in a network namespace: one process per tool per change set.

`tc -batch -force` keeps going past a failing line and names it ("Command failed -:N"), so a
failure is pinned on the port that owns the line. nft is one atomic transaction.
"""
from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from netqos import trust

_FAILED = re.compile(r"Command failed -:(\d+)")
T = TypeVar("T")


@dataclass
class BatchResult:
    failed_lines: dict[int, str] = field(default_factory=dict)   # 1-based line -> error text
    ok: bool = True

    def blame(self, owners: Sequence[T]) -> dict[T, str]:
        """Each failure's owner, `owners` listing the owner of every line sent. A failure
        tc could not pin on one of the batch's lines (0: the batch as a whole) is every
        owner's: nothing of the batch is known to hold. Never indexes out of range."""
        out: dict[T, str] = {}
        for line_no, reason in sorted(self.failed_lines.items()):
            if 1 <= line_no <= len(owners):
                out.setdefault(owners[line_no - 1], reason)
            else:
                for owner in owners:
                    out.setdefault(owner, f"the {len(owners)}-line batch failed: {reason}")
        return out


class Runner:
    def __init__(self, netns: str | None = None):
        self.netns = netns

    def _argv(self, tool: str, *args: str) -> list[str]:
        if tool in ("tc", "ip"):
            return [tool, *(("-n", self.netns) if self.netns else ()), *args]
        prefix = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*prefix, tool, *args]

    def run(self, tool: str, *args: str, stdin: str | None = None,
            check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self._argv(tool, *args), input=stdin, capture_output=True,
                              text=True, check=check)

    def batch(self, tool: str, lines: list[str]) -> BatchResult:
        """`tc|ip -force -batch -`: every line runs; failures are reported by line number."""
        if not lines:
            return BatchResult()
        # A line with a control character would be several lines (or a cut one) to tc,
        # and numbers would stop matching: it is never sent, it fails as itself.
        # (Values are checked when pulled, netqos.trust; this is the last guard.)
        unsafe = {n: "refused: a control character in the command"
                  for n, line in enumerate(lines, 1) if trust.CONTROL.search(line)}
        sent = [n for n in range(1, len(lines) + 1) if n not in unsafe]
        result = BatchResult(failed_lines=dict(unsafe), ok=not unsafe)
        if not sent:
            return result
        proc = self.run(tool, "-force", "-batch", "-",
                        stdin="\n".join(lines[n - 1] for n in sent) + "\n")
        result.ok = result.ok and proc.returncode == 0
        errors = proc.stderr.splitlines()
        for i, text in enumerate(errors):
            if m := _FAILED.search(text):
                reason = next((e for e in reversed(errors[:i]) if e and not _FAILED.search(e)),
                              text)
                at = int(m.group(1))
                result.failed_lines[sent[at - 1] if 1 <= at <= len(sent) else 0] = reason
        if proc.returncode != 0 and len(result.failed_lines) == len(unsafe):
            result.failed_lines[0] = proc.stderr.strip() or f"{tool} exit {proc.returncode}"
        return result

    def nft(self, lines: list[str]) -> str | None:
        """One atomic nft transaction; None on success, the error text otherwise."""
        if not lines:
            return None
        if any(trust.CONTROL.search(line) for line in lines):   # see batch()
            return "refused: a control character in an nft command"
        proc = self.run("nft", "-f", "-", stdin="\n".join(lines) + "\n")
        return None if proc.returncode == 0 else (proc.stderr.strip() or "nft failed")

    def nft_ruleset(self) -> dict[str, Any]:
        proc = self.run("nft", "-j", "-n", "list", "ruleset", check=True)
        ruleset: dict[str, Any] = json.loads(proc.stdout or "{}")
        return ruleset

    def tc_text(self, *args: str) -> str:
        proc = self.run("tc", *args)
        return proc.stdout if proc.returncode == 0 else ""

    # `ip -j` / `tc -j` print a list of JSON objects whose keys vary with the kind of
    # link/qdisc: callers read them with .get(), so their elements stay untyped (Any).
    def ip_json(self, *args: str) -> list[Any]:
        proc = self.run("ip", "-j", *args, check=True)
        objects: list[Any] = json.loads(proc.stdout or "[]")
        return objects

    def tc_json(self, *args: str) -> list[Any]:
        proc = self.run("tc", "-j", *args)
        if proc.returncode != 0 or not proc.stdout.strip():
            return []
        objects: list[Any] = json.loads(proc.stdout)
        return objects
