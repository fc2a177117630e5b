"""Candle files as a CandleSeries (exchanges.paper.series): the three formats, several files, errors that say where."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchanges.paper.feeds import load_binance_klines_csv
from exchanges.paper.series import CandleDataError, CandleSeries, load_series

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DAY = FIXTURES / "BTCUSDT-1m-2022-05-05.csv"
LINES = DAY.read_text().splitlines()


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_binance_dump_loads_with_its_exact_prices_and_float_columns_for_scanning():
    series = load_series([DAY])
    assert len(series) == 1440
    reference = load_binance_klines_csv(DAY)
    assert [series.candle(i) for i in (0, 700, 1439)] == [reference[i] for i in (0, 700, 1439)]
    assert series.candle(0).open == D("39684.10")
    assert series.high[0] == 39704.10 and series.open_ms[0] == 1651708800000


def test_a_month_per_file_joins_in_order_and_the_other_formats_load_alike(tmp_path):
    first = write(tmp_path, "a.csv", LINES[:700])
    second = write(tmp_path, "b.csv", ["open_time,open,high,low,close,volume,close_time", *LINES[700:]])
    joined = load_series([first, second])
    whole = load_series([DAY])
    assert [joined.candle(i) for i in range(1440)] == [whole.candle(i) for i in range(1440)]
    header = write(
        tmp_path,
        "h.csv",
        ["Date,Open,High,Low,Close,Volume"]
        + [
            f"{datetime.fromtimestamp(int(x.split(',')[0]) / 1000, UTC).isoformat()},{','.join(x.split(',')[1:6])}"
            for x in LINES[:50]
        ],
    )
    as_json = tmp_path / "c.json"
    as_json.write_text(json.dumps([[int(x.split(",")[0]), *x.split(",")[1:6]] for x in LINES[:50]]))
    for path in (header, as_json):
        series = load_series([path])
        assert [series.candle(i) for i in range(50)] == [whole.candle(i) for i in range(50)]


def test_open_times_in_microseconds_as_newer_spot_dumps_write_them_are_read_as_such(tmp_path):
    micro = [f"{int(x.split(',')[0]) * 1000},{x.split(',', 1)[1]}" for x in LINES[:3]]
    series = load_series([write(tmp_path, "us.csv", micro)])
    assert series.open_ms.tolist() == load_series([DAY]).open_ms[:3].tolist()


@pytest.mark.parametrize(
    ("change", "line", "reason"),
    [
        (lambda rows: rows.__setitem__(4, rows[4].replace("39", "x9", 1)), 5, "is not a number"),
        (lambda rows: rows.__setitem__(2, "1651708920000,1,2"), 3, "3 fields, a candle needs at least 5"),
        (lambda rows: rows.__setitem__(6, rows[5]), 7, "duplicated; first at line 6"),
        (lambda rows: rows.insert(8, rows.pop(3)), 9, "unsorted"),
        (lambda rows: rows.__setitem__(1, "1651708860000,100,99,98,99.5,1"), 2, "the high is below the open"),
        (lambda rows: rows.__setitem__(1, "1651708860000,100,101,100.5,100,1"), 2, "the low is above the open"),
        (lambda rows: rows.__setitem__(1, "1651708860000,0,1,0,1,1"), 2, "the low is not positive"),
    ],
)
def test_a_bad_row_is_refused_naming_file_line_and_reason(tmp_path, change, line, reason):
    rows = LINES[:12]
    change(rows)
    path = write(tmp_path, "bad.csv", rows)
    with pytest.raises(CandleDataError) as caught:
        load_series([path])
    assert (caught.value.file, caught.value.line) == (str(path), line)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}, line {line}: ")


def test_files_given_out_of_order_are_refused_at_the_first_row_of_the_later_one(tmp_path):
    first = write(tmp_path, "a.csv", LINES[:10])
    second = write(tmp_path, "b.csv", LINES[10:20])
    with pytest.raises(CandleDataError, match="files out of order") as caught:
        load_series([second, first])
    assert (caught.value.file, caught.value.line) == (str(first), 1)


def test_malformed_json_and_header_rows_say_where(tmp_path):
    as_json = tmp_path / "c.json"
    as_json.write_text(
        json.dumps([[1651708800000, "1", "2", "0.5", "1.5", "1"], [1651708860000, "1", "oops", "1", "1"]])
    )
    with pytest.raises(CandleDataError, match=r"c\.json, candle 2: high 'oops' is not a number") as caught:
        load_series([as_json])
    assert caught.value.line == 2
    header = write(
        tmp_path, "h.csv", ["date,open,high,low,close", "2022-05-05T00:00:00,1,2,0.5,1.5", "yesterday,1,2,1,1"]
    )
    with pytest.raises(CandleDataError, match="neither milliseconds nor ISO 8601") as caught:
        load_series([header])
    assert caught.value.line == 3


def test_a_series_can_be_made_from_candle_records():
    candles = load_binance_klines_csv(DAY)[:5]
    series = CandleSeries.from_candles(candles)
    assert [series.candle(i) for i in range(5)] == candles


def test_crlf_lines_and_numbers_in_other_spellings_give_the_same_columns(tmp_path):
    plain = load_series([DAY])
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(("\r\n".join(LINES[:30]) + "\r\n").encode())
    spelled = [LINES[0].replace("39684.10,", "3.968410e4,", 1), *LINES[1:30]]  # numpy's parser takes this one
    for path in (crlf, write(tmp_path, "spelled.csv", spelled)):
        series = load_series([path])
        for column in ("open_ms", "open", "high", "low", "close"):
            assert getattr(series, column).tolist() == getattr(plain, column)[:30].tolist()
