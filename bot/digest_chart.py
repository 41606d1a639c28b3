"""The digest's chart: failures per day as a PNG in memory (issue 12 part 6).

Drawn with matplotlib's Agg backend through a Figure and its own FigureCanvasAgg, not pyplot:
no display is needed and no global pyplot state is shared between threads (matplotlib's
"CanvasAgg demo": "It is not necessary to avoid using the pyplot interface in order to create
figures without a graphical front-end - simply setting the backend to "Agg" would be
sufficient", https://matplotlib.org/3.11.0/gallery/user_interfaces/canvasagg.html; a Figure
with FigureCanvasAgg can `savefig` to a BytesIO).

New failures per day are bars, the failures still open at the end of each day a line.
"""
from __future__ import annotations

import io
from datetime import datetime, timezone

from .digest import DayCount
from .slack.texts import t

WIDTH_IN, HEIGHT_IN, DPI = 8, 4, 100   # 800 x 400 pixels
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def chart_png(days: tuple[DayCount, ...] | list[DayCount], lang: str = "en") -> bytes:
    """PNG bytes of the chart of `days` (labels in `lang`, days in UTC)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    names = t(lang, "digest_weekdays").split(",")
    labels = []
    for d in days:
        when = datetime.fromtimestamp(d.start, timezone.utc)
        labels.append(f"{names[when.weekday()]} {when.day}")
    x = list(range(len(days)))

    fig = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.bar(x, [d.new for d in days], color="#d9534f", label=t(lang, "digest_chart_new"))
    ax.plot(x, [d.open for d in days], color="#1f4e79", marker="o", linewidth=2, label=t(lang, "digest_chart_open"))
    ax.set_xticks(x, labels)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))   # counts: no 0.5 ticks
    ax.set_ylim(bottom=0)
    ax.set_title(t(lang, "digest_chart_title"))
    ax.legend(loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=DPI)
    return out.getvalue()
