"""The run report as one self-contained HTML page: the header, the figure inline (a PNG as
a data: URI), and tables of the drifts, the cues and the runs in the trends. Every text
from the history is escaped; nothing is loaded from anywhere else."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

from companion.coaching.spoken import duration_clock as clock
from companion.form.metrics import METRICS
from companion.form.record import Episode, RunInfo
from companion.history.report.page import Report, facts, run_title

STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; color: #263238; margin: 2em auto;
       max-width: 1240px; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
.facts { font-weight: 600; margin: 0.2em 0 0.6em; }
.summary { background: #f5f7f8; border-left: 4px solid #2e7d32; padding: 0.6em 1em; }
.note { color: #78909c; }
img { width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { text-align: left; padding: 0.3em 0.9em 0.3em 0; border-bottom: 1px solid #eceff1;
         vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.form td:first-child { color: #c62828; font-weight: 600; }
tr.this { background: #fff8e1; }
"""


def _table(
    headings: Sequence[str], rows: Iterable[tuple[str, Sequence[str]]], numeric: set[int]
) -> str:
    """A table of escaped cells; each row with its class ("" for none)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headings)
    body = []
    for cls, cells in rows:
        tds = "".join(
            f'<td class="n">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(cells)
        )
        attr = f' class="{escape(cls)}"' if cls else ""
        body.append(f"<tr{attr}>{tds}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _past(ep: Episode) -> str:
    """How far past the baseline the drift went at its worst, in the rule's unit."""
    metric = ep.metric.split(".", 1)[1]
    if ep.relative:
        return f"{ep.peak_excess:.0%} {ep.direction} baseline"
    info = METRICS[metric]
    unit = info.unit if info.unit == "°" else f" {info.unit}"
    return f"{ep.peak_excess:.{info.digits}f}{unit} {ep.direction} baseline"


def _episodes(report: Report) -> str:
    if not report.episodes:
        return '<p class="note">No drift in this run.</p>'
    rows = []
    for ep in report.episodes:
        metric = ep.metric.split(".", 1)
        ended = (
            "the sensor moved"
            if ep.moved
            else "the run ended"
            if ep.ran_out or ep.end is None
            else "form came back"
        )
        lasted = "" if ep.end is None else clock(ep.end - ep.start)
        rows.append(
            (
                "",
                [
                    ep.fault.description,
                    f"{METRICS[metric[1]].label} ({metric[0]})",
                    clock(ep.start),
                    "" if ep.end is None else clock(ep.end),
                    lasted,
                    _past(ep),
                    ended,
                ],
            )
        )
    headings = ("drift", "seen in", "from", "to", "lasted", "at worst", "ended as")
    return _table(headings, rows, {2, 3, 4})


def _cues(report: Report) -> str:
    if not report.cues:
        return '<p class="note">No cues were said.</p>'
    rows = [
        (
            "form" if c.number is not None else "",
            ["" if c.number is None else str(c.number), clock(c.t), c.category, c.text, c.answered],
        )
        for c in report.cues
    ]
    return _table(("#", "at", "kind", "said", "the drift it answered"), rows, {1})


def _trend_row(r: RunInfo, this: RunInfo) -> tuple[str, list[str]]:
    if not r.judged_s:
        onset = "not judged"
    elif r.drift_onset_s is None:
        onset = "no drift"
    else:
        onset = f"minute {r.drift_onset_s / 60:.0f}"
    held = "" if r.form_held is None else f"{r.form_held:.0%}"
    return (
        "this" if r.id == this.id else "",
        [
            f"{r.started:%a %d %b %Y %H:%M}",
            r.name,
            "" if r.duration_s is None else clock(r.duration_s),
            onset,
            held,
        ],
    )


def html_page(report: Report, png: bytes) -> str:
    run = report.run
    title = run_title(run)
    image = base64.b64encode(png).decode("ascii")
    if run.detail_dropped and not report.seconds:
        dropped = (
            f'<p class="note">The second-by-second detail of this run was dropped on '
            f"{escape(run.detail_dropped[:10])} (history.keep_detail_days); its totals, drifts "
            "and cues are kept.</p>"
        )
    else:
        dropped = ""
    shown = "the watched metrics over the run, and " if report.panels else ""
    alt = f"{run.name}: {shown}the trends across runs"
    trend = [_trend_row(r, run) for r in reversed(report.trend)]  # newest first, as `history`
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(run.name)}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="facts">{escape("  ·  ".join(facts(run)))}</p>
<p class="summary">{escape(report.summary)}</p>
{dropped}
<img alt="{escape(alt)}"
 src="data:image/png;base64,{image}">
<h2>Drifts</h2>
{_episodes(report)}
<h2>Cues</h2>
{_cues(report)}
<h2>Runs in the trends ({len(report.trend)})</h2>
{_table(("started", "run", "time", "drift began", "form held"), trend, {2, 4})}
</body>
</html>
"""
