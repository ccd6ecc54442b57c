"""The live bar on a terminal: rich's ``Progress`` with its row fitted to the terminal's
width, so that a narrow terminal loses the least important columns, never the count."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console, RenderableType
from rich.measure import Measurement
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
)
from rich.table import Column, Table
from rich.text import Text

BAR_MIN = 10  # narrower than this, the bar is left out instead
GAP = 2  # spaces between columns


class CutText(TextColumn):
    """A text column cut short with an ellipsis, never wrapped, when the row is too wide."""

    def __init__(self, template: str) -> None:
        super().__init__(template, table_column=Column(overflow="ellipsis"))

    def render(self, task: Task) -> Text:
        text = super().render(task)
        text.no_wrap, text.overflow = True, "ellipsis"
        return text


def count_column() -> MofNCompleteColumn:
    """``done/total``; its table column is never narrowed."""
    return MofNCompleteColumn(table_column=Column(no_wrap=True))


class FittedProgress(Progress):
    """rich's ``Progress`` whose rows fit the console: the bar takes the room left over (at
    most its ``bar_width``); when that is under ``BAR_MIN`` the ``optional`` columns are
    left out, in that order, and what still does not fit is cut with an ellipsis (except
    the count). Columns that are empty for every task are left out too."""

    def __init__(self, *columns: ProgressColumn, optional: Sequence[ProgressColumn] = (),
                 console: Console | None = None,
                 get_time: Callable[[], float] | None = None) -> None:
        super().__init__(*columns, console=console, get_time=get_time)
        self.optional = list(optional)
        self.bars = {c: c.bar_width or 40 for c in columns if isinstance(c, BarColumn)}

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        shown_tasks = [task for task in tasks if task.visible]
        if not shown_tasks:  # also while rich's Progress is being made
            return Table.grid()
        columns = [c for c in self.columns if isinstance(c, ProgressColumn)]
        cells = {c: [c(task) for task in shown_tasks] for c in columns if c not in self.bars}
        widths = {c: max((self._width(cell) for cell in cells[c]), default=0) for c in cells}
        shown = [c for c in columns if c in self.bars or widths[c] > 0]
        for dropped in [None, *self.optional]:
            if dropped in shown:
                shown.remove(dropped)
            bars = [c for c in shown if c in self.bars]
            room = self.console.width - sum(widths[c] for c in shown if c in widths) \
                - GAP * (len(shown) - 1)
            if room >= BAR_MIN * len(bars):
                break
        for bar in self.bars:  # share the room left over, each up to its own width
            bar.bar_width = min(self.bars[bar], max(room // max(len(bars), 1), 1))
        table = Table.grid(*(c.get_table_column().copy() for c in shown), padding=(0, GAP))
        for i, task in enumerate(shown_tasks):
            table.add_row(*(cells[c][i] if c in cells else c(task) for c in shown))
        return table

    def _width(self, cell: RenderableType) -> int:
        return Measurement.get(self.console, self.console.options, cell).maximum


@contextmanager
def terminal_bar(*columns: ProgressColumn, optional: Sequence[ProgressColumn] = (),
                 clock: Callable[[], float] | None = None) -> Iterator[FittedProgress]:
    """A live ``FittedProgress`` on stderr (timed by ``clock``, rich's own by default)."""
    with FittedProgress(*columns, optional=optional, console=Console(stderr=True),
                        get_time=clock) as bar:
        yield bar
