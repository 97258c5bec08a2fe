"""Output for people (tables with human units) and for scripts (-f json|yaml|value).

json and yaml carry the machine values (kbit/s integers, ids, the server's field names);
`table` and `value` show the human form (100mbit, AF31 (26)). `-c COLUMN` (repeatable)
picks columns by header or field name, in every format.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

FORMATS = ("table", "json", "yaml", "value")


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    fmt: Callable[[object], str] | None = None   # raw value -> text; None: str()
    row_fmt: Callable[[dict], str] | None = None  # whole row -> text (derived columns)

    def raw(self, row: dict):
        return row.get(self.key)

    def text(self, row: dict) -> str:
        if self.row_fmt:
            return self.row_fmt(row)
        value = row.get(self.key)
        if self.fmt:
            return self.fmt(value)
        return plain(value)


def plain(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, tuple)):
        return "\n".join(plain(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={plain(v)}" for k, v in value.items())
    return str(value)


def add_format_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("-f", "--format", choices=FORMATS, default="table",
                   help="table for people; json, yaml or value for scripts (table)")
    g.add_argument("-c", "--column", action="append", default=[], metavar="COLUMN",
                   help="show only this column (repeatable; header or field name)")


def _pick(columns: Sequence[Column], wanted: Sequence[str]) -> list[Column]:
    if not wanted:
        return list(columns)
    out = []
    for w in wanted:
        match = [c for c in columns if w.lower() in (c.header.lower(), c.key.lower())]
        if not match:
            from netqos.cli.client import UsageError
            raise UsageError(f"no column {w!r}; columns: "
                             f"{', '.join(c.header for c in columns)}")
        out.extend(match[:1])
    return out


def emit_list(args: argparse.Namespace, columns: Sequence[Column], rows: Sequence[dict],
              out=None) -> None:
    out = out or sys.stdout
    fmt = getattr(args, "format", "table")
    cols = _pick(columns, getattr(args, "column", []))
    if fmt in ("json", "yaml"):
        # Without -c: the whole objects (the server's fields, machine units) plus any
        # derived column; with -c: just those.
        if getattr(args, "column", []):
            data = [{c.key: _machine(c, r) for c in cols} for r in rows]
        else:
            data = [{**r, **{c.key: _machine(c, r) for c in cols if c.key not in r}}
                    for r in rows]
        _dump(fmt, data, out)
    elif fmt == "value":
        for r in rows:
            out.write(" ".join(c.text(r).replace("\n", ",") for c in cols) + "\n")
    else:
        out.write(table([c.header for c in cols], [[c.text(r) for c in cols] for r in rows]))


def emit_one(args: argparse.Namespace, columns: Sequence[Column], obj: dict,
             out=None) -> None:
    out = out or sys.stdout
    fmt = getattr(args, "format", "table")
    wanted = getattr(args, "column", [])
    cols = _pick(columns, wanted)
    if fmt in ("json", "yaml"):
        data = {c.key: _machine(c, obj) for c in cols} if wanted else \
            {**obj, **{c.key: _machine(c, obj) for c in cols if c.key not in obj}}
        _dump(fmt, data, out)
    elif fmt == "value":
        for c in cols:
            out.write(c.text(obj).replace("\n", ",") + "\n")
    else:
        out.write(table(["Field", "Value"], [[c.header, c.text(obj)] for c in cols]))


def emit_data(args: argparse.Namespace, data, human: Callable[[], str]) -> None:
    """Free-form documents (status): json/yaml dump `data`, otherwise print human()."""
    fmt = getattr(args, "format", "table")
    if fmt in ("json", "yaml"):
        _dump(fmt, data, sys.stdout)
    else:
        sys.stdout.write(human())


def _machine(col: Column, row: dict):
    if col.key in row:
        return row[col.key]
    return col.text(row)   # a derived column: its text is its value


def _dump(fmt: str, data, out) -> None:
    if fmt == "json":
        out.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    else:
        import yaml
        out.write(yaml.safe_dump(data, sort_keys=False, default_flow_style=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """An ASCII table like openstackclient's; cells may hold several lines."""
    split = [[str(c).split("\n") for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in split:
        for i, lines in enumerate(row):
            widths[i] = max(widths[i], *(len(x) for x in lines))
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+\n"

    def line(cells):
        return "|" + "|".join(f" {c:<{w}} " for c, w in zip(cells, widths)) + "|\n"

    text = [rule, line(headers), rule]
    for row in split:
        height = max((len(x) for x in row), default=1)
        for n in range(height):
            text.append(line([lines[n] if n < len(lines) else "" for lines in row]))
    if rows:
        text.append(rule)
    return "".join(text)


class Progress:
    """`done/total label` on stderr, only when stderr is a TTY or --progress was given."""

    def __init__(self, total: int, label: str, enabled: bool | None = None):
        self.total, self.label, self.done = total, label, 0
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.tty = sys.stderr.isatty()
        self._last_len = 0
        self._printed = -1    # last tenth printed when stderr is not a terminal

    @classmethod
    def for_args(cls, args: argparse.Namespace, total: int, label: str) -> "Progress":
        return cls(total, label, True if getattr(args, "progress", False) else None)

    def step(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if not self.enabled:
            return
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        text = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] " \
               f"{self.done}/{self.total}{' ' + note if note else ''}"
        if self.tty:
            cols = shutil.get_terminal_size((80, 20)).columns
            text = text[:cols - 1]
            sys.stderr.write("\r" + text.ljust(self._last_len))
            self._last_len = len(text)
        else:   # a log, not a terminal: a line per tenth, not per item
            tenth = self.done * 10 // self.total if self.total else 10
            if tenth == self._printed:
                return
            self._printed = tenth
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def stage(self, text: str) -> None:
        """A named step of a long operation without a count (e.g. `netqos plan`)."""
        if not self.enabled:
            return
        if self.tty:
            sys.stderr.write("\r" + text.ljust(self._last_len))
            self._last_len = len(text)
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.tty and self._last_len:
            sys.stderr.write("\r" + " " * self._last_len + "\r")
            sys.stderr.flush()


def add_progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action="store_true",
                   help="show progress on stderr even when it is not a terminal")
