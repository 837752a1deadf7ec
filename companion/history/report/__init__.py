"""The report of one kept run: its metrics over time against the runner's baseline, the
drifts and cues, and how the runs up to it compare. `gather` reads it from the history
(page.py); `render` draws it as a PNG figure (figure.py, with the trends of trends.py) or one
self-contained HTML page (html.py), importing matplotlib only then.

May import: companion.coaching, companion.form, companion.history, cues.
"""

from __future__ import annotations

from companion.history.report.page import Report, gather

__all__ = ["Report", "gather", "render"]


def render(report: Report, fmt: str) -> bytes:
    """The report as a PNG figure ("png") or one self-contained HTML page ("html")."""
    from companion.history.report.figure import figure_png

    if fmt == "png":
        return figure_png(report)
    from companion.history.report.html import html_page

    return html_page(report, figure_png(report, header=False, dpi=130)).encode()
