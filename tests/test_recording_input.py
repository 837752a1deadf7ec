"""Recordings wrong in one way each, made from the real ones, through the real commands:
each is refused in one line naming the file and what is wrong (or, where the file says
enough, read right), never analysed into nonsense."""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from companion.cli.main import main
from sensors.recorded.recording import G, RecordingError, load_plain_csv, load_recording
from sensors.samples import Placement
from tests.conftest import OUTDOOR, RAW_SAMPLE, TREADMILL
from tests.test_cli import companion, json_lines, replay_json

OUTDOOR_S = 300  # the first five minutes: running, a baseline, and quick to analyse


def real_lines(path: Path, rows: int | None = None) -> list[str]:
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return lines if rows is None else lines[: rows + 1]


def outdoor(rows: int = OUTDOOR_S * 100) -> tuple[list[str], np.ndarray]:
    """The outdoor run's header and its numbers (t_s, hip xyz, ankle xyz)."""
    lines = real_lines(OUTDOOR, rows)
    return lines[0].split(","), np.loadtxt(lines[1:], delimiter=",")


def write(path: Path, header: list[str], rows: np.ndarray, fmt: str = "%.5f") -> Path:
    np.savetxt(path, rows, delimiter=",", header=",".join(header), comments="", fmt=fmt)
    return path


def relabel(lines: list[str], old: str, new: str) -> list[str]:
    """The same numbers under other column names (`old` → `new` in the header only)."""
    return [lines[0].replace(old, new), *lines[1:]]


Done = subprocess.CompletedProcess[str]


def one_line_error(done: Done, path: Path, *expected: str) -> str:
    """The command refused the file in one line, exit status 2, naming the file."""
    err = done.stderr
    assert done.returncode == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, err  # one line, no traceback
    assert err.startswith(f"companion: {path}: "), err
    for words in expected:
        assert words in err, err
    return err


def both_commands(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> list[Done]:
    """`companion analyze` and `companion replay` of `path`, run in this process through
    the command's own entry point (what the subprocess runs, without its start-up)."""
    done = []
    wavs = str(tmp_path / "wavs")
    for args in (
        ["analyze", str(path)],
        ["replay", str(path), "--json", "--speed", "0", "--audio", "files", "--out", wavs],
    ):
        status = main(args)
        out, err = capsys.readouterr()
        done.append(subprocess.CompletedProcess(args, status, out, err))
    return done


# Each case: the file made in tmp_path, what the one line must say, extra options.
Case = tuple[Callable[[Path], Path], tuple[str, ...], tuple[str, ...]]


def _ms2_read_as_g(tmp: Path) -> Path:  # the tester's: m/s² values in columns that say g
    header, rows = outdoor()
    rows[:, 1:] *= G
    return write(tmp / "ms2-as-g.csv", header, rows)


def _times_in_ms(tmp: Path) -> Path:
    header, rows = outdoor()
    rows[:, 0] *= 1000
    return write(tmp / "ms.csv", header, rows)


def _no_z(tmp: Path) -> Path:
    header, rows = outdoor()
    keep = [i for i, h in enumerate(header) if h != "hip_z_g"]
    return write(tmp / "no-z.csv", [header[i] for i in keep], rows[:, keep])


def _nan_z(tmp: Path) -> Path:
    header, rows = outdoor()
    rows[:, header.index("hip_z_g")] = np.nan
    return write(tmp / "nan-z.csv", header, rows)


def _z_ends_early(tmp: Path) -> Path:
    header, rows = outdoor()
    rows[12_345:, header.index("hip_z_g")] = np.nan
    path = write(tmp / "z-ends.csv", header, rows)
    path.write_text(path.read_text().replace("nan", ""))  # empty cells, as a logger leaves
    return path


def _unknown_sensor(tmp: Path) -> Path:
    lines = relabel(real_lines(OUTDOOR, 3000), "hip_", "imu_")
    (tmp / "imu.csv").write_text("\n".join(lines) + "\n")
    return tmp / "imu.csv"


def _empty(tmp: Path) -> Path:
    (tmp / "empty.csv").write_bytes(b"")
    return tmp / "empty.csv"


def _compressed(tmp: Path) -> Path:  # the compressed bytes, under a name that says CSV
    (tmp / "compressed.csv").write_bytes(OUTDOOR.read_bytes())
    return tmp / "compressed.csv"


def _binary(tmp: Path) -> Path:
    (tmp / "binary.csv").write_bytes(b"t_" + OUTDOOR.read_bytes())
    return tmp / "binary.csv"


def _latin1(tmp: Path) -> Path:
    lines = real_lines(OUTDOOR, 3000)
    lines[0] += ",temperature_°C"
    lines[1:] = [f"{line},21" for line in lines[1:]]
    (tmp / "latin1.csv").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    return tmp / "latin1.csv"


def _semicolons(tmp: Path) -> Path:
    lines = real_lines(OUTDOOR, 3000)
    (tmp / "semi.csv").write_text("\n".join(line.replace(",", ";") for line in lines))
    return tmp / "semi.csv"


CASES: dict[str, Case] = {
    "ms2-labelled-g": (
        _ms2_read_as_g,
        ("sensor 'hip': gravity reads 10.1 g", "look like m/s²", "hip_x_ms2, hip_y_ms2"),
        (),
    ),
    "times-in-ms": (
        _times_in_ms,
        ("'t_s' give hip a sample rate of 0.1 Hz", "look like milliseconds"),
        (),
    ),
    "missing-z": (_no_z, ("sensor 'hip' has no z axis (it has hip_x_g, hip_y_g)",), ()),
    "all-nan-z": (_nan_z, ("column 'hip_z_g' holds no numbers",), ()),
    "z-ends-early": (
        _z_ends_early,
        ("line 12347, column 'hip_z_g': empty where hip's other columns have readings",),
        (),
    ),
    "unknown-sensor": (
        _unknown_sensor,
        ("no sensor on the trunk", "'imu' is not a name for", "--placement imu=pelvis"),
        (),
    ),
    "empty": (_empty, ("the file is empty",), ()),
    "compressed": (_compressed, ("not a CSV text file: it is gzip-compressed",), ()),
    "binary": (_binary, ("not a CSV text file: byte 3 (0x8b) is not UTF-8 text",), ()),
    "not-utf8": (_latin1, ("(0xb0) is not UTF-8 text",), ()),
    "semicolons": (_semicolons, ("separated by semicolons: a CSV file uses commas",), ()),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_wrong_recording_is_refused_in_one_line_by_analyze_and_replay(
    running_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    make, expected, _ = CASES[case]
    path = make(tmp_path)
    for done in both_commands(path, tmp_path, capsys):
        one_line_error(done, path, *expected)
        assert done.stdout == ""


def test_the_commands_themselves_refuse_in_one_line(running_data: Path, tmp_path: Path) -> None:
    path = _binary(tmp_path)
    for done in (companion("analyze", str(path)), replay_json(path, tmp_path / "wavs")):
        one_line_error(done, path, "not a CSV text file")
        assert done.stdout == ""


def _analysis(path: Path, *extra: str) -> dict[str, object]:
    done = companion("analyze", str(path), "--json", *extra)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    result.pop("recording")
    return result


def test_names_in_any_case_or_plural_are_the_same_sensor(
    running_data: Path, tmp_path: Path
) -> None:
    lines = real_lines(OUTDOOR, OUTDOOR_S * 100)
    same = tmp_path / "same.csv"
    same.write_text("\n".join(lines) + "\n")
    shouted = tmp_path / "shouted.csv"  # the tester's hip_x_G, and more of the same
    shouted.write_text("\n".join(relabel(relabel(lines, "hip_x_g", "hip_x_G"), "t_s", "T_s")))
    hips = tmp_path / "hips.csv"
    hips.write_text("\n".join(relabel(lines, "hip_", "Hips_")) + "\n")
    reference = _analysis(same)
    assert reference["baseline"] and reference["running_s"] > 250  # type: ignore[operator]
    assert _analysis(shouted) == reference
    assert _analysis(hips) == reference  # a plural of a trunk name is the same place
    events = json_lines(replay_json(hips, tmp_path / "wavs").stdout)
    assert (events[0]["sensor"], events[0]["placement"]) == ("hips", "pelvis")


def test_a_plain_csv_with_times_or_units_mislabelled_says_the_option(
    running_data: Path, tmp_path: Path
) -> None:
    _, rows = outdoor()
    path = write(tmp_path / "phone.csv", ["time", "ax", "ay", "az"], rows[:, :4])
    columns = ("--columns", "t=time,x=ax,y=ay,z=az")
    path_ms = write(
        tmp_path / "phone-ms.csv", ["time", "ax", "ay", "az"], rows[:, :4] * [1000, 1, 1, 1]
    )
    done = companion("analyze", str(path_ms), *columns)
    one_line_error(done, path_ms, "sample rate of 0.1 Hz", "say --time-unit ms")
    done = companion("analyze", str(path), *columns, "--time-unit", "ms")
    one_line_error(done, path, "sample rate of 1e+05 Hz", "say --time-unit s")
    done = companion("analyze", str(path), *columns, "--units", "ms2")
    one_line_error(done, path, "gravity reads 1", "look like g", "say --units g")
    upper = ("--columns", "t=TIME,x=AX,y=AY,z=AZ")  # column names in any case
    assert _analysis(path, *upper)["baseline"] == _analysis(path, *columns)["baseline"]


def test_a_sensor_of_unknown_name_beside_a_trunk_one_gets_the_placement_hint(
    running_data: Path, tmp_path: Path
) -> None:
    lines = relabel(real_lines(OUTDOOR, 3000), "ankle_", "belt_")
    path = tmp_path / "belt.csv"
    path.write_text("\n".join(lines) + "\n")
    events = json_lines(replay_json(path, tmp_path / "wavs").stdout)
    assert events[0]["sensor"] == "hip"
    assert any("belt is not taken as a trunk sensor" in n for n in events[0]["notes"])
    assert any("--placement belt=pelvis" in n for n in events[0]["notes"])
    done = replay_json(path, tmp_path / "wavs", "--placement", "hisp=pelvis")
    one_line_error(done, path, "--placement names 'hisp', which is not a sensor of the file")


# The unit check on every real file: its true unit passes, the wrong one is refused.
REAL = [
    (OUTDOOR, "_g", "_ms2", "look like g", {}),
    (TREADMILL, "_g", "_ms2", "look like g", {}),
    (RAW_SAMPLE, "_ms2", "_g", "look like m/s²", {"acc": Placement.PELVIS}),
]


@pytest.mark.parametrize(("real", "unit", "wrong", "says", "places"), REAL)
def test_gravity_says_the_unit_of_every_real_file(
    running_data: Path,
    tmp_path: Path,
    real: Path,
    unit: str,
    wrong: str,
    says: str,
    places: dict[str, Placement],
) -> None:
    assert load_recording(real, placements=places).accel  # its own unit: no complaint
    lines = real_lines(real)
    if real == TREADMILL:  # each 5-second trial alone too
        for k in np.unique(np.loadtxt(lines[1:], delimiter=",", usecols=0)):
            assert load_recording(real, trial=int(k)).accel
    mislabelled = tmp_path / real.name.replace(".gz", "")
    mislabelled.write_text("\n".join(relabel(lines, unit, wrong)) + "\n")
    with pytest.raises(RecordingError, match=says):
        load_recording(mislabelled, placements=places)


def test_the_raw_sample_read_as_a_plain_csv_in_the_wrong_unit(running_data: Path) -> None:
    columns = {"t": "t_s", "x": "acc_x_ms2", "y": "acc_y_ms2", "z": "acc_z_ms2"}
    rec = load_plain_csv(RAW_SAMPLE, columns, Placement.PELVIS, unit="ms2")
    assert np.linalg.norm(rec.accel[0].xyz.mean(axis=0)) == pytest.approx(1.0, abs=0.02)
    with pytest.raises(RecordingError, match="look like m/s²; if so, say --units ms2"):
        load_plain_csv(RAW_SAMPLE, columns, Placement.PELVIS, unit="g")
