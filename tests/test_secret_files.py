"""Files holding a password or a key are owner-only (0600) from their first byte, whatever the
umask: the one helper (secret_files.write_private), the state folder's secrets.json (also one
written by an older version), and initdb's password file, which is gone once the cluster exists."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from profiteer_pipeline import settings as settings_mod
from profiteer_pipeline.secret_files import is_private, write_private
from profiteer_pipeline.stack.postgres import EmbeddedPostgres


@pytest.fixture
def open_umask():
    """The loosest umask: files would be created 0666 unless asked otherwise."""
    old = os.umask(0)
    yield
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_creates_and_replaces_with_mode_600(tmp_path, open_umask):
    path = tmp_path / "secret"
    write_private(path, "s3cret")
    assert mode(path) == 0o600 and path.read_text() == "s3cret"
    # an existing, world-readable file is replaced, not rewritten in place with its old mode
    path.chmod(0o644)
    write_private(path, "new")
    assert mode(path) == 0o600 and path.read_text() == "new"
    with pytest.raises(FileExistsError):
        write_private(path, "other", exclusive=True)
    assert path.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]  # no temporary left


def test_write_private_never_exposes_the_content(tmp_path, open_umask, monkeypatch):
    """The temporary file the content goes to first is 0600 before a byte is written (its mode
    is read off the real descriptor as it is opened), so there is no moment when the secret sits
    in a readable file; a writer that fails leaves nothing behind."""
    path = tmp_path / "secret"
    seen = []
    real_fdopen = os.fdopen

    def watching_fdopen(fd, *args, **kwargs):
        seen.append((stat.S_IMODE(os.fstat(fd).st_mode), os.fstat(fd).st_size))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(os, "fdopen", watching_fdopen)
    write_private(path, "s3cret")
    monkeypatch.undo()
    assert seen == [(0o600, 0)]
    with pytest.raises(TypeError):
        write_private(tmp_path / "other", None)  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_embedded_secrets_file(tmp_path, monkeypatch, open_umask):
    monkeypatch.setenv("PROFITEER_STATE_DIR", str(tmp_path))
    values = settings_mod.embedded_secrets()
    path = tmp_path / "secrets.json"
    assert mode(path) == 0o600
    assert set(values) == set(settings_mod.GENERATED_SECRETS)
    assert settings_mod.embedded_secrets() == values  # kept
    # a file from an older version: no model password, mode 644
    old = {k: v for k, v in values.items() if k != "pg_model_password"}
    path.write_text(json.dumps(old))
    path.chmod(0o644)
    upgraded = settings_mod.embedded_secrets()
    assert {k: upgraded[k] for k in old} == old and upgraded["pg_model_password"]
    assert is_private(path) and json.loads(path.read_text()) == upgraded


def test_a_stack_service_never_reads_the_secrets_file(tmp_path, monkeypatch):
    """With PROFITEER_SECRETS_SOURCE=environment (what `profiteer up` gives its services) the
    settings hold only the secrets in the environment, and secrets.json is neither read nor made."""
    monkeypatch.setenv("PROFITEER_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("PROFITEER_PG_MODE", "embedded")
    monkeypatch.setenv("PROFITEER_PG_PORT", "5999")
    monkeypatch.setenv("PROFITEER_SECRETS_SOURCE", "environment")
    monkeypatch.setenv("PROFITEER_READER_PASSWORD", "reader-pw")
    for var in ("PROFITEER_PG_PASSWORD", "PROFITEER_SHOP_API_KEY", "PROFITEER_MODEL_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    s = settings_mod.load()
    assert (s.warehouse.password, s.shop_api_key, s.model_password) == ("", "", "")
    assert s.reader.password == "reader-pw" and s.reader.port == 5999
    assert not (tmp_path / "secrets.json").exists()


def test_initdb_password_file_is_gone_and_the_password_works():
    """initdb reads the admin password from a file (written by write_private); it is removed
    once the cluster exists, and the password is the one the server accepts."""
    import shutil
    import tempfile

    import psycopg2
    from conftest import free_port

    # not under pytest's 0700 basetemp: the server's user (when run as root) must reach it
    base = Path(tempfile.mkdtemp(prefix="profiteer-initdb-"))
    base.chmod(0o755)
    root = base / "pg"
    server = EmbeddedPostgres(root, free_port(), "initdb-" + os.urandom(4).hex())
    server.start()
    try:
        assert not (root / ".pwfile").exists()
        assert not list(root.glob(".*.tmp"))
        psycopg2.connect(
            host="127.0.0.1", port=server.port, user="postgres", password=server.password,
            dbname="postgres",
        ).close()  # fmt: skip
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
