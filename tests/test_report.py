"""`companion report`: a kept run drawn as one PNG figure, or as one self-contained HTML page,
from the test history of three real runs (tests/history_data.py)."""

from __future__ import annotations

import base64
import io
import json
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from companion.cli.main import main
from companion.form.record import Second
from companion.form.rules import load_rules
from companion.history.report import render
from companion.history.report.html import html_page
from companion.history.report.page import Report, gather, metric_panels
from companion.history.store import Store
from tests.history_data import copy_to

COMPANION = str(Path(sys.executable).parent / "companion")
METRIC_PANELS = ["Forward lean (pelvis)", "Cadence (pelvis)", "Bounce (pelvis)", "Braking (pelvis)"]
TREND_PANELS = ["When drift began, run by run", "Form held, run by run"]
DRIFTS = {"pelvis tipping forward", "overstriding"}
RGB = npt.NDArray[np.int_]  # an image region, height × width × (r, g, b)


@pytest.fixture(scope="module")
def history(kept_history: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    copy = tmp_path_factory.mktemp("report") / "history.sqlite"
    shutil.copy(kept_history, copy)
    with Store(copy) as store:
        yield store


@pytest.fixture(scope="module")
def last(history: Store) -> Report:
    """The report of the last run: the injected fault again, after a run without drift."""
    return gather(history, history.run(), load_rules())


@pytest.fixture(scope="module")
def png(last: Report) -> bytes:
    return render(last, "png")


@pytest.fixture(scope="module")
def page(last: Report) -> str:
    return render(last, "html").decode()


def panels(image: Image.Image) -> dict[str, RGB]:
    """Each panel of a report figure, by title, as an RGB array (from the PNG's metadata)."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    boxes = json.loads(image.info["Panels"])
    return {p["title"]: rgb[p["box"][1] : p["box"][3], p["box"][0] : p["box"][2]] for p in boxes}


def near(region: RGB, colour: str, tolerance: int = 40) -> int:
    """How many pixels of `region` are within `tolerance` of `colour` (#rrggbb)."""
    target = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int((np.abs(region - target).max(axis=-1) < tolerance).sum())


def drift_shading(region: RGB) -> int:
    """Pixels of the light orange of a drift span (over white or over the band)."""
    r, g, b = region[..., 0], region[..., 1], region[..., 2]
    return int(((r > 235) & (g > 200) & (g < 235) & (b < 215)).sum())


def test_png_holds_every_panel_none_blank(png: bytes) -> None:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    width, height = image.size
    assert width == 1200 and 1000 < height < 2200
    described = image.info["Description"].removeprefix("Panels: ").split("; ")
    assert described == METRIC_PANELS + TREND_PANELS
    drawn = panels(image)
    assert list(drawn) == described
    for title, region in drawn.items():
        h, w, _ = region.shape
        assert w > 400 and h > 120, title
        flat = region.reshape(-1, 3)
        colours = np.unique(flat @ [1 << 16, 1 << 8, 1])
        assert colours.size > 100, title  # lines, markers, text: not one fill
        assert (flat.min(axis=1) < 245).mean() > 0.03, title
    for title in METRIC_PANELS:
        region = drawn[title]
        assert near(region, "#1565c0") > 500, title  # the measured line
        assert near(region, "#2e7d32") > 500, title  # the baseline and its band's edges
        assert near(region, "#c62828") > 50, title  # the form cues' marks
    # The drifts shaded where they happened: lean and cadence drifted; bounce (higher, but
    # only as slower steps make it) and braking did not.
    for title in METRIC_PANELS[:2]:
        assert drift_shading(drawn[title]) > 2000, title
    for title in METRIC_PANELS[2:]:
        assert drift_shading(drawn[title]) < 200, title
    # The trends: two runs that drifted (orange) and one that did not (green).
    for title in TREND_PANELS:
        assert near(drawn[title], "#ef6c00", 30) > 100, title
        assert near(drawn[title], "#2e7d32", 30) > 50, title


class Page(HTMLParser):
    """What a report page holds: the tables' rows, every URL it would load, the images."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.urls: list[str] = []
        self.images: list[str] = []
        self.tags: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.urls.append(value)
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parsed(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


def test_html_is_one_self_contained_page(page: str) -> None:
    p = parsed(page)
    assert p.tags[:2] == ["html", "head"] and "style" in p.tags
    assert p.urls and all(u.startswith("data:image/png;base64,") for u in p.urls)
    assert "http://" not in page and "https://" not in page and "url(" not in page
    assert not {"script", "link", "iframe"} & set(p.tags)
    (src,) = p.images
    figure = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert figure.info["Description"] == "Panels: " + "; ".join(METRIC_PANELS + TREND_PANELS)


def test_html_tables_list_the_drifts_the_cues_and_the_runs(
    page: str, history: Store, last: Report
) -> None:
    drifts, cues, runs = parsed(page).tables
    assert drifts[0][:2] == ["drift", "seen in"]
    assert {row[0] for row in drifts[1:]} == DRIFTS
    assert all(row[-1] == "form came back" for row in drifts[1:])
    said = history.cues(last.run.id)
    assert [row[3] for row in cues[1:]] == [text for _, _, _, text, _ in said]
    form = [row for row in cues[1:] if row[2] == "form"]
    assert [row[0] for row in form] == ["1", "2", "3", "4"]
    # Each form cue with the drift it answered, and how soon that drift ended.
    assert all(row[4].split(":")[0] in DRIFTS and "ended" in row[4] for row in form)
    assert [row[3] for row in runs[1:]] == ["minute 10", "no drift", "minute 10"]  # newest first
    assert [row[1] for row in runs[1:]] == [r.name for r in history.runs()]


def test_html_escapes_what_it_shows(last: Report, png: bytes) -> None:
    odd = "<script>alert('x')</script> & “quotes”"
    cue = replace(last.cues[-1], text=odd)
    page = html_page(replace(last, cues=(*last.cues[:-1], cue), summary=odd), png)
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp;") == 2
    assert parsed(page).tables[1][-1][3] == odd


def test_bands_are_the_baseline_and_the_rules_thresholds(last: Report) -> None:
    by_title = {p.title: p for p in last.panels}
    lean, cadence = by_title["Forward lean (pelvis)"], by_title["Cadence (pelvis)"]
    assert lean.centre is not None and lean.high is not None and lean.low is not None
    assert lean.watched == {"above"} and np.allclose(lean.high - lean.centre, 3.5)
    assert cadence.centre is not None and cadence.low is not None
    assert cadence.watched == {"below"}
    assert np.allclose(cadence.low, cadence.centre * (1 - 0.045))
    assert {ep.fault.description for p in last.panels for ep in p.episodes} == DRIFTS


def test_a_footpods_baseline_follows_the_speed() -> None:
    """As the detector does: 1 m/s faster, a cadence 8 % higher is no drift."""
    seconds = tuple(
        Second(float(t), True, True, values={"footpod.cadence_spm": 170.0}, speed_mps=v)
        for t, v in ((1, 3.0), (2, 4.0), (3, None))
    )
    baseline = {"footpod.cadence_spm": (170.0, 1.0), "footpod.speed_mps": (3.0, 0.1)}
    (panel,) = metric_panels(seconds, baseline, (), load_rules())
    assert panel.title == "Cadence (footpod)"
    assert panel.centre is not None
    assert np.allclose(panel.centre, [170.0, 170.0 * 1.08, 170.0])


@pytest.fixture
def data_home(kept_history: Path, tmp_path: Path) -> Path:
    """The test history where `companion` looks (XDG_DATA_HOME is the test's own)."""
    return copy_to(kept_history, tmp_path / "data")


def test_companion_report_writes_private_files(data_home: Path, tmp_path: Path) -> None:
    figure, page = tmp_path / "last.png", tmp_path / "first.html"
    page.write_text("an older page")
    page.chmod(0o644)  # a file already there, replaced as asked, is made private too
    # Both at once: each starts its own Python and matplotlib.
    runs = [
        subprocess.Popen(
            [COMPANION, "report", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in (["--out", str(figure)], ["1", "--out", str(page), "--force"])
    ]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err
        assert "written to" in out
    for path in (figure, page):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Image.open(figure).info["Title"] == "Run report: run-20261110-073000"
    assert "run-20261102-073000" in page.read_text()


def test_companion_report_refuses_other_formats(data_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    done = subprocess.run(
        [COMPANION, "report", "--out", str(out)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "PNG or HTML" in done.stderr and "*.png or *.html" in done.stderr
    assert not out.exists()


def test_a_run_whose_detail_was_dropped_keeps_its_totals_and_trends(
    data_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store(data_home) as history:
        history.drop_detail(history.run(1), datetime.now().astimezone())
    out = tmp_path / "first.html"
    assert main(["report", "1", "--out", str(out)]) == 0
    said = " ".join(capsys.readouterr().out.split())
    assert "seconds were dropped" in said and "no metrics over time" in said
    p = parsed(out.read_text())
    (src,) = p.images
    figure = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
    assert figure.info["Description"] == "Panels: " + "; ".join(TREND_PANELS)
    drifts, cues, runs = p.tables
    assert {row[0] for row in drifts[1:]} == DRIFTS  # the drifts and cues are kept
    assert len(cues) == 9 and len(runs) == 2  # a heading and the first run only


def test_a_year_of_trends_reads_only_the_run_table(kept_history: Path, tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    shutil.copy(kept_history, db)
    first = datetime.fromisoformat("2025-11-01T07:00:00+01:00")
    with sqlite3.connect(db) as conn:  # a year of earlier runs: their totals only
        conn.executemany(
            "INSERT INTO run (name, started, source, kind, state, duration_s, judged_s, "
            "held_s, drift_onset_s, drifts) VALUES (?, ?, 'test', 'import', 'finished', "
            "1800, 1200, ?, ?, ?)",
            [
                (
                    f"run-{i}",
                    (first + timedelta(days=i)).isoformat(),
                    1200 - i * 37 % 600,  # scattered, as runs are
                    None if i % 3 == 0 else 300 + i * 53 % 1200,
                    int(i % 3 != 0),
                )
                for i in range(300)
            ],
        )
    with Store(db) as history:
        asked: list[str] = []
        history.conn.set_trace_callback(asked.append)
        report = gather(history, history.run(), load_rules())
    assert len(report.trend) == 303 and report.trend[-1].id == report.run.id
    detail = [
        q
        for q in asked
        if any(f"FROM {t} " in q for t in ("second", "step", "baseline", "episode", "cue"))
    ]
    assert detail and all(f"run = {report.run.id}" in q for q in detail), detail
    image = Image.open(io.BytesIO(render(report, "png")))
    for title in TREND_PANELS:  # the runs that drifted, spread over the year
        orange = np.abs(panels(image)[title] - [0xEF, 0x6C, 0x00]).max(axis=-1) < 30
        assert orange.any(axis=0).sum() > 200, title
