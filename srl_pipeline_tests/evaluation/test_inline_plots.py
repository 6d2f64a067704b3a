"""Inline plots: short enough for the Dagster UI to render on the page (< 1,000 characters) even
for a long training job, and drawing what they say."""

import base64
import re

from srl_pipeline.core.catalogue import label, table_columns
from srl_pipeline.evaluation.inline_plots import INLINE_LIMIT, MAX_POINTS, bars_markdown, sparkline_markdown


def _svg(markdown: str) -> str:
    return base64.b64decode(re.search(r"base64,([^)]+)\)", markdown).group(1)).decode()


def test_a_long_curve_is_downsampled_and_stays_inline():
    values = [0.01 * i for i in range(500)]
    text = sparkline_markdown(values, "KL", reference=0.1)
    assert len(text) < INLINE_LIMIT
    points = re.search(r"points='([^']+)'", _svg(text)).group(1).split()
    assert len(points) == MAX_POINTS
    ys = [int(p.split(",")[1]) for p in points]
    assert ys == sorted(ys, reverse=True)          # rising values go up the picture (SVG y grows downward)
    assert "0 → 4.99 (min 0, max 4.99) over 500 steps; dashed: 0.1" in text


def test_no_curve_without_two_values():
    assert sparkline_markdown([], "reward") is None
    assert sparkline_markdown([None, 0.3, None], "reward") is None


def test_bars_for_every_table_column_stay_inline_and_scale_with_the_value():
    models = list(table_columns())
    values = {label(m): i / (len(models) - 1) for i, m in enumerate(models)}
    values[label("sft")] = None
    text = bars_markdown(values, "success greedy")
    assert len(text) < INLINE_LIMIT
    heights = [int(h) for h in re.findall(r"v-(\d+)", _svg(text))]
    assert heights == sorted(heights) and len(heights) == len(models) - 2   # no bar for 0 % or a missing model
    assert "SFT —" in text and "Solver 100 %" in text
