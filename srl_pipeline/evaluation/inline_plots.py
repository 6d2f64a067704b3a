"""Plots small enough to show inline on a Dagster asset page: SVG sparklines and bar charts as
markdown images of under 1,000 characters.

The Dagster UI renders a markdown metadata value inline only when it is shorter than 1,000
characters; longer ones (an embedded PNG) hide behind "[Show Markdown]" and a pop-up. A training
curve drawn as one SVG polyline (at most :data:`MAX_POINTS` points, integer coordinates) fits, so
the reward and KL curves and the model comparison are on the page without a click; the PNGs stay
beside them for detail. Pure functions: text in, text out (no Dagster, no matplotlib).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence

__all__ = ["INLINE_LIMIT", "MAX_POINTS", "bars_markdown", "sparkline_markdown", "svg_image"]

INLINE_LIMIT = 1000   # the UI's limit for inline markdown metadata
MAX_POINTS = 40
WIDTH, HEIGHT, PAD = 240, 48, 3


def svg_image(svg: str, alt: str) -> str:
    """A markdown image of ``svg`` as a data URI (the UI's markdown allows ``data:`` images)."""
    return f"![{alt}](data:image/svg+xml;base64,{base64.b64encode(svg.encode()).decode()})"


def _downsample(values: Sequence[float | None], limit: int = MAX_POINTS) -> list[tuple[int, float]]:
    points = [(i, float(v)) for i, v in enumerate(values) if v is not None and math.isfinite(float(v))]
    if len(points) <= limit:
        return points
    stride = (len(points) - 1) / (limit - 1)
    return [points[round(i * stride)] for i in range(limit)]


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def sparkline_markdown(values: Sequence[float | None], name: str, unit: str = "",
                       reference: float | None = None) -> str | None:
    """``name``'s curve over the steps as an inline SVG (a dashed line at ``reference``, e.g. the KL
    bound) followed by "first → last (min … max) over N steps"; None without two finite values."""
    points = _downsample(values)
    if len(points) < 2:
        return None
    ys = [y for _, y in points] + ([reference] if reference is not None else [])
    lo, hi = min(ys), max(ys)
    span = (hi - lo) or 1.0
    last_x = points[-1][0] or 1

    def xy(x: float, y: float) -> str:
        return f"{round(PAD + (WIDTH - 2 * PAD) * x / last_x)},{round(HEIGHT - PAD - (HEIGHT - 2 * PAD) * (y - lo) / span)}"

    line = " ".join(xy(x, y) for x, y in points)
    ref = ""
    if reference is not None:
        y = xy(0, reference).split(",")[1]
        ref = f"<line x1='0' x2='{WIDTH}' y1='{y}' y2='{y}' stroke='#999' stroke-dasharray='4'/>"
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{HEIGHT}'>{ref}"
           f"<polyline fill='none' stroke='#4C72B0' stroke-width='2' points='{line}'/></svg>")
    first, last = points[0][1], points[-1][1]
    n = len([v for v in values if v is not None])
    caption = (f"{_fmt(first)} → {_fmt(last)}{unit} (min {_fmt(min(y for _, y in points))}, "
               f"max {_fmt(max(y for _, y in points))}) over {n} steps")
    if reference is not None:
        caption += f"; dashed: {_fmt(reference)}"
    return f"{svg_image(svg, name)}\n\n{caption}"


def bars_markdown(values: dict[str, float | None], name: str) -> str:
    """One bar per label (in order; a missing value is an empty bar) for fractions in [0, 1], as an
    inline SVG on a 0-100 % scale, then the values as text ("SRL 12 % · ...")."""
    step, bar = 30, 22
    width = max(1, len(values)) * step
    inner = HEIGHT - 2 * PAD
    path = "".join(f"M{i * step + 4} {HEIGHT - PAD}h{bar}v-{round(inner * max(0.0, min(1.0, v)))}h-{bar}z"
                   for i, v in enumerate(values.values()) if v)
    svg = (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{HEIGHT}'>"
           f"<path d='M0 {HEIGHT - PAD}h{width}' stroke='#999'/><path d='{path}' fill='#4C72B0'/></svg>")
    text = " · ".join(f"{label} {'—' if v is None else f'{100 * v:.0f} %'}" for label, v in values.items())
    return f"{svg_image(svg, name)}\n\n{text}"
