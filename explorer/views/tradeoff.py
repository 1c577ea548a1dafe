"""Size vs loss trade-off: the current run's path (hidden units or parameters vs validation
loss, from "tradeoff" records) and the final points of earlier runs of this session."""

from __future__ import annotations

from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from explorer.views.base import View, columns, figure_defaults, outside_legend, replace_data
from explorer.views.palette import TRAIN_COLOR
from kernels.records import TRADEOFF

RUN_COLUMNS = ("units", "params", "val_loss", "val_acc", "step", "lam")
EARLIER_COLUMNS = (*RUN_COLUMNS, "run", "method")


class TradeoffView(View):
    #: record kinds this view draws
    kinds = (TRADEOFF,)

    def __init__(self, size: str = "units", **params) -> None:
        super().__init__(**params)
        if size not in ("units", "params"):
            raise ValueError(f"size must be 'units' or 'params', got '{size}'")
        self.run = ColumnDataSource({k: [] for k in RUN_COLUMNS}, name="tradeoff_run")
        self.earlier = ColumnDataSource({k: [] for k in EARLIER_COLUMNS}, name="tradeoff_earlier")
        self.run_course = self.course(self.run)
        self.fig = figure(
            title="size vs validation loss",
            name="tradeoff_figure",
            y_axis_type="log",
            **figure_defaults(height=280),
        )
        outside_legend(self.fig)
        self.path = self.fig.line(
            size,
            "val_loss",
            source=self.run,
            color=TRAIN_COLOR,
            line_width=2,
            legend_label="this run",
        )
        self.head = self.fig.scatter(size, "val_loss", source=self.run, color=TRAIN_COLOR, size=4)
        self.others = self.fig.scatter(
            size,
            "val_loss",
            source=self.earlier,
            color="#ff7f0e",
            size=9,
            marker="diamond",
            legend_label="earlier runs",
        )
        self.fig.add_tools(
            HoverTool(
                renderers=[self.head, self.others],
                tooltips=[
                    ("units", "@units"),
                    ("params", "@params"),
                    ("val loss", "@val_loss{0.0000}"),
                    ("val acc", "@val_acc{0.000}"),
                    ("step", "@step"),
                    ("lambda", "@lam"),
                ],
            )
        )
        self.fig.yaxis.axis_label = "validation loss"
        self.set_size_axis(size)
        self._runs = 0
        self.method_label = ""

    def set_size_axis(self, size: str) -> None:
        if size not in ("units", "params"):
            raise ValueError(f"size must be 'units' or 'params', got '{size}'")
        for r in (self.path, self.head, self.others):
            r.glyph.x = size
        self.fig.xaxis.axis_label = "hidden units" if size == "units" else "parameters"

    def sources(self):
        return [self.run, self.earlier]

    def reset(self):
        """Keep the finished run's last point among the earlier runs, then empty the path."""
        self.archive()
        replace_data(self.run, {k: [] for k in RUN_COLUMNS})
        self.run_course.reset()

    def archive(self, method: str | None = None) -> None:
        method = self.method_label if method is None else method
        data = self.run.data
        if not len(data["step"]):
            return
        self._runs += 1
        last = {k: [data[k][-1]] for k in RUN_COLUMNS}
        self.earlier.stream({**last, "run": [self._runs], "method": [method]})

    def update(self, records_by_kind):
        rows = [r for r in records_by_kind.get(TRADEOFF, ()) if r.get("source", "run") == "run"]
        if rows:
            self.run_course.stream(
                columns({k: [r.get(k, float("nan")) for r in rows] for k in RUN_COLUMNS})
            )

    def __panel__(self):
        return self._pane(self.fig)
