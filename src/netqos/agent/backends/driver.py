"""The one apply driver: runs a plan's batches, maps failures to the changes that caused
them, retries, and records the outcome per port.

A backend only translates and executes: it says which `Step`s an apply runs (one batch
each: a `tc -batch`, an nft transaction, an OVSDB transaction, a bundle of flows, the
rates of some VFs) and what of each change goes into each; `apply` does the rest, the same
way for every backend (cilium/statedb's Operations with a result per entry is the model):

- `skip` changes are errors of their port, with the reason the planner gave;
- each step gathers the items of the changes (left out: those that failed before, unless
  the step runs `after_failure`), orders them by `key` (stably: a change's items keep
  their order), runs them as one batch, and pins each failed item on its change;
- a batch that fails as a whole (`BatchFailed`, or any exception) is retried change by
  change when the step may `isolate` (an atomic transaction: one bad port must not block
  the others), else it is every change's failure; `attempts` > 1 runs the rest again
  after the failures were pinned (a bundle that stops at its first bad flow);
- then every change that did not fail is remembered (`remember`: the backend's memo of
  what it wrote, how it later tells drift from its own work), its port is applied unless
  an error of its own, and its drift repair is recorded.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from netqos.agent.backends.changes import Action, ApplyResult, Change

LOG = logging.getLogger(__name__)


class BatchFailed(Exception):
    """The batch failed as a whole, naming no item (an atomic transaction refused)."""


@dataclass(frozen=True)
class Step:
    """One batch of an apply."""

    name: str                                        # for timings and logs: "tc", "ovsdb"
    items: Callable[[Change], Sequence[Any]]         # what of a change goes in the batch
    run: Callable[[list[Any]], Mapping[int, str]]    # {index of a failed item: reason}
    key: Callable[[Any], Any] | None = None          # batch order of the items (stable)
    after_failure: bool = True      # also the changes that failed in an earlier step
    isolate: bool = False           # a whole failure: retry change by change
    attempts: int = 1               # runs of what is left after pinning failures
    describe: Callable[[Exception], str] = str       # the reason a whole failure gives
    cleanup: Callable[[], None] | None = None        # after the step, whatever happened


def remember_payload(memo: dict[Any, Any]) -> Callable[[Change], None]:
    """The usual `remember`: a change's payload carries `memo` ((key, value) pairs)."""
    def remember(change: Change) -> None:
        memo.update(getattr(change.payload, "memo", ()))
    return remember


def apply(changes: Sequence[Change], steps: Sequence[Step],
          remember: Callable[[Change], None],
          timings: dict[str, float] | None = None) -> ApplyResult:
    """Run `steps` over `changes` in order; the outcome per port. `timings` (if given)
    gets the seconds spent per step name."""
    result = ApplyResult()
    for change in changes:
        if change.action == Action.SKIP:
            result.errors[change.port_id] = change.what
    work = [(i, c) for i, c in enumerate(changes) if c.action != Action.SKIP]
    failed: dict[int, str] = {}     # index of a change -> its first failure
    for step in steps:
        started = time.perf_counter()
        try:
            _run_step(step, work, failed)
        finally:
            if step.cleanup is not None:
                step.cleanup()
            if timings is not None:
                timings[step.name] = timings.get(step.name, 0.0) \
                    + time.perf_counter() - started
    _record(changes, failed, result, remember)
    return result


def _rows(step: Step, work: Sequence[tuple[int, Change]],
          failed: Mapping[int, str]) -> list[tuple[int, Any]]:
    rows = [(i, item) for i, c in work if step.after_failure or i not in failed
            for item in step.items(c)]
    if step.key is not None:
        key = step.key
        rows.sort(key=lambda row: key(row[1]))
    return rows


def _run_step(step: Step, work: Sequence[tuple[int, Change]], failed: dict[int, str]) -> None:
    for _attempt in range(step.attempts):
        rows = _rows(step, work, failed)
        if not rows:
            return
        try:
            errors = step.run([item for _, item in rows])
        except Exception as exc:
            if step.isolate:
                LOG.warning("%s batch of %d change(s) failed (%s); retrying one by one",
                            step.name, len({i for i, _ in rows}), exc)
                _isolate(step, rows, failed)
            else:
                for i, _ in rows:
                    failed.setdefault(i, step.describe(exc))
            return
        if not errors:
            return
        for n, reason in errors.items():
            failed.setdefault(rows[n][0], reason)


def _isolate(step: Step, rows: list[tuple[int, Any]], failed: dict[int, str]) -> None:
    """Each change's items alone, in batch order: the failure is pinned on its change."""
    for i in dict.fromkeys(i for i, _ in rows):
        one = [item for owner, item in rows if owner == i]
        try:
            errors = step.run(one)
        except Exception as exc:
            failed[i] = step.describe(exc)
            continue
        if errors:
            failed.setdefault(i, next(iter(errors.values())))


def _record(changes: Sequence[Change], failed: Mapping[int, str], result: ApplyResult,
            remember: Callable[[Change], None]) -> None:
    for i, reason in failed.items():
        result.errors.setdefault(changes[i].port_id, reason)
    for i, change in enumerate(changes):
        if change.action == Action.SKIP or i in failed:
            continue
        remember(change)
        if change.for_port and change.port_id not in result.errors \
                and change.port_id not in result.applied:
            result.applied.append(change.port_id)
        if change.drift:
            result.drift_repaired.setdefault(change.port_id, []).append(change.what)
