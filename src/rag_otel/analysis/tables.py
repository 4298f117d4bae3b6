"""Terminal tables that never cut a value, whatever the width (a pipe, a log file, 40 columns).

rich shrinks a table that is wider than the console by cutting cells ("7.…"). `FitTable`
keeps rich's look but never lets that happen: it measures the table, and when it is too wide
prints it in parts, each repeating the key columns (stage, quantile) with as many of the
other columns as fit; when not even one column fits beside the keys, it prints one block
per row, one ``header: value`` line per column. Lines are never cropped.

    table = FitTable("per-stage latency (ms)")
    table.add_column("stage", key=True, justify="left", style="bold")
    table.add_column("p50")
    table.add_row("retrieve", "12.5")
    table.add_section()                      # a rule above the next row
    table.add_row("turn", "40.1", style="italic")
    table.print(console)

Add columns to a report's table with `add_column`; the fitting is done here, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

Justify = Literal["left", "right"]

TITLE_STYLE = "italic"
"""How report titles look (rich's own table titles are italic)."""

# Measure tables against a width no terminal has, to get their natural width.
_UNBOUNDED = 100_000


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    key: bool
    """Repeated in every part when the table is split."""
    justify: Justify
    style: str | None


@dataclass(frozen=True, slots=True)
class Row:
    cells: tuple[str, ...]
    style: str | None
    section: bool
    """A rule above this row."""


class FitTable:
    """A table with rich's look that is split, never truncated, when the console is narrow."""

    def __init__(self, title: str = "", *, title_style: str | None = None) -> None:
        self.title = title
        self.title_style = title_style
        self.columns: list[Column] = []
        self.rows: list[Row] = []
        self._section_next = False

    def add_column(
        self,
        header: str,
        *,
        key: bool = False,
        justify: Justify = "right",
        style: str | None = None,
    ) -> None:
        if self.rows:
            raise ValueError("add every column before the first row")
        self.columns.append(Column(header=header, key=key, justify=justify, style=style))

    def add_row(self, *cells: str, style: str | None = None) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append(Row(cells=tuple(cells), style=style, section=self._section_next))
        self._section_next = False

    def add_section(self) -> None:
        self._section_next = True

    def print(self, console: Console) -> None:
        if self.title:
            # soft_wrap: a long path in the title is left whole (the terminal wraps it)
            console.print(
                self.title, style=self.title_style, highlight=False, markup=False, soft_wrap=True
            )
        for part in layout(self, console):
            if part is None:
                print_stacked(self, console)
                return
            console.print(part, crop=False)


def _keys_and_rest(table: FitTable) -> tuple[list[int], list[int]]:
    keys = [i for i, c in enumerate(table.columns) if c.key]
    rest = [i for i, c in enumerate(table.columns) if not c.key]
    return keys, rest


def build_part(table: FitTable, indexes: Sequence[int]) -> Table:
    """A rich Table of the given columns (by index); cells never wrap."""
    from rich.table import Table

    part = Table(highlight=False)
    for i in indexes:
        column = table.columns[i]
        part.add_column(column.header, justify=column.justify, style=column.style, no_wrap=True)
    for row in table.rows:
        if row.section:
            part.add_section()
        part.add_row(*(row.cells[i] for i in indexes), style=row.style)
    return part


def natural_width(console: Console, part: Table) -> int:
    from rich.measure import Measurement

    return Measurement.get(console, console.options.update_width(_UNBOUNDED), part).maximum


def layout(table: FitTable, console: Console) -> list[Table | None]:
    """The parts to print: the whole table if it fits, else key columns + as many as fit.

    ``[None]`` means not even one column fits beside the keys: print it stacked.
    """
    keys, rest = _keys_and_rest(table)
    whole = build_part(table, keys + rest)
    width = console.width
    if natural_width(console, whole) <= width:
        return [whole]
    if not rest:  # the key columns alone are too wide
        return [None]
    groups: list[list[int]] = []
    current: list[int] = []
    for i in rest:
        if natural_width(console, build_part(table, [*keys, *current, i])) <= width:
            current.append(i)
            continue
        if not current:  # this column does not fit beside the keys even alone
            return [None]
        groups.append(current)
        current = [i]
        if natural_width(console, build_part(table, [*keys, i])) > width:
            return [None]
    groups.append(current)
    return [build_part(table, keys + group) for group in groups]


def stacked_lines(table: FitTable) -> list[tuple[str, str | None]]:
    """(line, style) pairs: per row, its key cells on one line, then ``  header: value``."""
    keys, rest = _keys_and_rest(table)
    lines: list[tuple[str, str | None]] = []
    for row in table.rows:
        if row.section:
            lines.append(("", None))
        lines.append((" ".join(row.cells[i] for i in keys), row.style or "bold"))
        lines += [(f"  {table.columns[i].header}: {row.cells[i]}", row.style) for i in rest]
    return lines


def print_stacked(table: FitTable, console: Console) -> None:
    for line, style in stacked_lines(table):
        console.print(line, style=style, highlight=False, markup=False, soft_wrap=True, crop=False)


def ms_text(x: float | None) -> str:
    """Milliseconds as people read them in a table: ``1,234``, ``56.7``, ``0.89``; ``-`` for
    none. Never exponent notation, and every digit that matters kept."""
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
