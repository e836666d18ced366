"""`profiteer generate`: the original POST /sales body in, rows out; bad input refused, nothing written."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from profiteer_pipeline.cli import main
from profiteer_pipeline.synth import generate_sales, load_default_catalog

PROFITEER = Path(sys.executable).parent / "profiteer"
BODY = {
    "hours": 48,
    "start": "2026-02-02T00:00:00Z",
    "products": [p.model_dump() for p in load_default_catalog()[:4]],
}


def expected() -> pd.DataFrame:
    return generate_sales(BODY)


def write(tmp_path: Path, body, name="request.json") -> Path:
    path = tmp_path / name
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def run(*args: str):
    return CliRunner().invoke(main, ["generate", *args], catch_exceptions=False)


def test_csv_on_stdout(tmp_path):
    result = run("--request", str(write(tmp_path, BODY)))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(io.StringIO(result.stdout))
    want = expected()
    assert list(frame.columns) == list(want.columns)
    assert len(frame) == 48 * 4
    assert frame["timestamp"].iloc[0] == "2026-02-02T00:00:00Z"
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    frame["product_image"] = frame["product_image"].fillna("")
    pd.testing.assert_frame_equal(frame, want)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_out_file_round_trips(tmp_path, suffix):
    out = tmp_path / "sub" / f"sales{suffix}"
    result = run("--request", str(write(tmp_path, BODY)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote 192 rows to {out}" in result.stderr
    want = expected()
    if suffix == ".parquet":
        got = pd.read_parquet(out)
        got["timestamp"] = got["timestamp"].astype("datetime64[ns, UTC]")
    elif suffix == ".csv":
        got = pd.read_csv(out, keep_default_na=False)
        got["timestamp"] = pd.to_datetime(got["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    else:
        got = pd.read_json(out, lines=True, dtype=False, convert_dates=False)
        assert got["timestamp"].iloc[0] == "2026-02-02T00:00:00Z"
        got["timestamp"] = pd.to_datetime(got["timestamp"], utc=True).astype("datetime64[ns, UTC]")
    pd.testing.assert_frame_equal(got, want)
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary file left


def test_original_body_without_start_or_seed(tmp_path):
    body = {"hours": 48, "products": [dict(p) for p in BODY["products"]]}
    for product in body["products"]:
        product["price_strategy"] = "standard"  # the original README's name for "random"
    result = run("--request", str(write(tmp_path, body)))
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(io.StringIO(result.stdout))
    assert len(frame) == 48 * 4
    assert set(frame["price_strategy"]) == {"random"}
    stamps = pd.to_datetime(frame["timestamp"], utc=True)
    now = pd.Timestamp.now(tz="UTC").floor("h")
    assert stamps.max() in (now - pd.Timedelta(hours=1), now)  # the last 48 complete hours


def assert_refused(result, *lines: str) -> list[str]:
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    got = result.stderr.strip().splitlines()
    for line in lines:
        assert any(g.startswith(f"error: {line}") for g in got), (line, got)
    assert all(g.startswith("error: ") for g in got)
    return got


def test_missing_file(tmp_path):
    out = tmp_path / "out.csv"
    result = run("--request", str(tmp_path / "nope.json"), "--out", str(out))
    assert_refused(result, f"request file {tmp_path / 'nope.json'}: not found")
    assert not out.exists()


def test_not_json(tmp_path):
    out = tmp_path / "out.csv"
    result = run("--request", str(write(tmp_path, '{"hours": 48,')), "--out", str(out))
    assert_refused(result, f"request file {tmp_path / 'request.json'}: not valid JSON")
    assert not out.exists()


def test_invalid_catalog_lists_every_problem_and_keeps_existing_output(tmp_path):
    products = [dict(p) for p in BODY["products"]]
    products[1]["min_price"] = products[1]["base_price"] + 100
    products[2]["base_rating"] = 6
    del products[3]["category"]
    out = tmp_path / "out.parquet"
    out.write_bytes(b"previous good output")
    body = {"hours": 0, "products": products}
    result = run("--request", str(write(tmp_path, body)), "--out", str(out))
    pid = [p["product_id"] for p in products]
    lines = assert_refused(
        result,
        "request: hours:",
        f"product {pid[1]}: min_price",
        f"product {pid[2]}: base_rating:",
        f"product {pid[3]}: category: missing",
    )
    assert len(lines) == 4
    assert out.read_bytes() == b"previous good output"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_unknown_extension(tmp_path):
    out = tmp_path / "out.xlsx"
    result = run("--request", str(write(tmp_path, BODY)), "--out", str(out))
    assert_refused(result, f"--out {out}: unknown extension '.xlsx'")
    assert not out.exists()


def test_problems_from_both_arguments_are_reported(tmp_path):
    result = run("--request", str(tmp_path / "nope.json"), "--out", str(tmp_path / "x.txt"))
    lines = assert_refused(result, "request file", "--out")
    assert len(lines) == 2


def test_request_must_be_an_object(tmp_path):
    result = run("--request", str(write(tmp_path, [1, 2])))
    assert_refused(result, "request: expected an object with hours and products, got list")


def test_request_from_standard_input():
    result = CliRunner().invoke(main, ["generate", "--request", "-"], input=json.dumps(BODY))
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(io.StringIO(result.stdout))) == 192
    bad = CliRunner().invoke(main, ["generate", "--request", "-"], input="{")
    assert_refused(bad, "standard input: not valid JSON")


def test_help_documents_formats_and_default():
    result = run("--help")
    assert result.exit_code == 0
    for word in (".csv", ".parquet", ".jsonl", "standard output", "--request"):
        assert word in result.output


def test_installed_command(tmp_path):
    """The console script itself, as a user runs it: a good file and a bad one."""
    out = tmp_path / "sales.jsonl"
    good = subprocess.run(
        [str(PROFITEER), "generate", "--request", str(write(tmp_path, BODY)), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert good.returncode == 0, good.stderr
    assert len(out.read_text().splitlines()) == 192
    bad = subprocess.run(
        [
            str(PROFITEER),
            "generate",
            "--request",
            str(write(tmp_path, "[", "bad.json")),
            "--out",
            str(tmp_path / "b.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stdout == ""
    assert bad.stderr.startswith("error: request file") and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "b.csv").exists()
