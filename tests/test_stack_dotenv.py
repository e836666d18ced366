"""`profiteer up`'s `.env` in the project folder (profiteer_pipeline/stack/dotenv.py): owner-only
from the first byte, read back exactly by Dagster's own `.env` reader, used by a `dagster` command
started in a clean environment in that folder, never written over a file that is not the stack's,
and removed only by the stack that wrote it."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from dagster._core.secrets.env_file import get_env_var_dict

from profiteer_pipeline.stack import dotenv

BIN = Path(sys.executable).parent
TRICKY = {
    "PROFITEER_PG_PASSWORD": "a'b\\c\"d $e #f",
    "PROFITEER_DATABASE_URL": "postgresql://u:p%40ss@127.0.0.1:5432/warehouse",
}


def test_written_owner_only_and_read_back_exactly(tmp_path):
    state = tmp_path / ".profiteer"
    done = dotenv.write(tmp_path, state, {"DAGSTER_HOME": str(state / "dagster_home"), **TRICKY})
    path = tmp_path / ".env"
    assert "written" in done
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert get_env_var_dict(str(tmp_path)) == {
        "DAGSTER_HOME": str(state / "dagster_home"),
        **TRICKY,
    }
    assert dotenv.owner(path) == str(state)


def test_a_dagster_command_in_a_clean_shell_finds_the_instance(tmp_path):
    """What a new shell in the project folder gets: no DAGSTER_HOME in its environment, the
    `.env` supplies it (Dagster's CLI reads it from the working folder)."""
    state = tmp_path / ".profiteer"
    home = state / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    dotenv.write(tmp_path, state, {"DAGSTER_HOME": str(home)})
    clean = {"PATH": f"{BIN}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run(
        [str(BIN / "dagster"), "instance", "info"],
        cwd=tmp_path, env=clean, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"$DAGSTER_HOME: {home}" in proc.stdout, proc.stdout
    # the same command elsewhere has no instance: it is the file that made the difference
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = subprocess.run(
        [str(BIN / "dagster"), "instance", "info"],
        cwd=elsewhere, env=clean, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert str(home) not in proc.stdout + proc.stderr


def test_never_overwrites_or_removes_a_file_that_is_not_its_own(tmp_path):
    mine = tmp_path / ".env"
    mine.write_text("MY_OWN=1\n")
    state = tmp_path / ".profiteer"
    assert "your own file" in dotenv.write(tmp_path, state, {"DAGSTER_HOME": "x"})
    assert not dotenv.remove(tmp_path, state)
    assert mine.read_text() == "MY_OWN=1\n"


def test_another_running_stacks_file_stays_and_only_its_writer_removes_it(tmp_path):
    first, second = tmp_path / "state-a", tmp_path / "state-b"
    (first / "run").mkdir(parents=True)
    (first / "run" / "dagster.json").write_text("{}")  # the first stack still runs
    dotenv.write(tmp_path, first, {"DAGSTER_HOME": "a"})
    assert "still runs" in dotenv.write(tmp_path, second, {"DAGSTER_HOME": "b"})
    assert not dotenv.remove(tmp_path, second)
    assert dotenv.owner(tmp_path / ".env") == str(first)
    assert dotenv.remove(tmp_path, first)
    assert not (tmp_path / ".env").exists()
    # a stopped stack's file (no pid records left) is replaced by the next `up`
    dotenv.write(tmp_path, first, {"DAGSTER_HOME": "a"})
    (first / "run" / "dagster.json").unlink()
    assert "written" in dotenv.write(tmp_path, second, {"DAGSTER_HOME": "b"})
    assert dotenv.owner(tmp_path / ".env") == str(second)


def test_only_a_state_folder_inside_the_clone_writes_it(tmp_path):
    clone = tmp_path / "clone"
    assert dotenv.for_this_clone(clone, clone / ".profiteer")
    assert not dotenv.for_this_clone(clone, tmp_path / "bench-state")


def test_refuses_what_dagsters_reader_would_expand():
    assert dotenv.unwritable({"A": "x${HOME}y", "B": "fine"}) == ["A"]


def test_the_clone_ignores_it():
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=repo, capture_output=True, timeout=60
    )
    assert proc.returncode == 0
