"""`profiteer import` end to end as a user runs it (a subprocess): copied into the inbox, imported
in-process when no Dagster answers (saying so), the summary printed; a bad file exits 1 with one
message naming the column and lines, and no traceback. Real PostgreSQL, PyAirbyte, source-file."""

from __future__ import annotations

from import_fixtures import (
    AMBIGUOUS,
    MESSY_UCI,
    cli_env,
    profiteer,
    read_table,
    schema_exists,
    write,
)


def test_cli_imports_a_file_and_prints_the_summary(tmp_path, pg_server, settings):
    source = write(tmp_path, "Online Retail (copy).csv", MESSY_UCI)
    env = cli_env(tmp_path)
    done = profiteer("import", [str(source)], env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "importing Online Retail (copy).csv as 'online_retail_copy'" in out
    assert "no Dagster at http://127.0.0.1:" in out and "importing in this process" in out
    assert (tmp_path / "inbox" / "online_retail_copy.csv").read_text() == MESSY_UCI
    for line in (
        "lines read:      14",
        "accepted:        5 sales lines",
        "returns:         2",
        "rejected:        7",
        "duplicate line:",
        "products:        3",
        "first hour:      2010-12-01T08:00:00+00:00",
        "last hour:       2011-02-20T11:00:00+00:00",
    ):
        assert line in out, out
    assert "Traceback" not in done.stderr
    products = read_table(settings, "SELECT count(*) FROM import_online_retail_copy.products")
    assert products.iloc[0, 0] == 3
    again = profiteer("import", [str(source)], env)
    assert again.returncode == 0 and "nothing changed" in again.stdout


def test_cli_refuses_a_bad_file_with_one_message(tmp_path, pg_server, settings):
    env = cli_env(tmp_path)
    bad = write(tmp_path, "dates.csv", AMBIGUOUS)
    done = profiteer("import", [str(bad), "--name", "cli_bad"], env)
    assert done.returncode == 1
    [message] = done.stderr.strip().splitlines()
    assert message.startswith("import refused: column timestamp")
    assert "2, 3, 4" in message and "--mapping" in message
    assert "Traceback" not in done.stderr
    assert not schema_exists(settings, "import_cli_bad")
    # the fix the message gives works
    mapping = write(tmp_path, "fix.yaml", "day_first: false\n")
    fixed = profiteer("import", [str(bad), "--name", "cli_bad", "--mapping", str(mapping)], env)
    assert fixed.returncode == 0, fixed.stderr
    assert "first hour:      2024-03-04T10:00:00+00:00" in fixed.stdout
    assert (tmp_path / "inbox" / "cli_bad.mapping.yaml").exists()
    invalid = profiteer("import", [str(bad), "--name", "Bad Name"], env)
    assert invalid.returncode == 1 and "not valid" in invalid.stderr


def test_cli_keeps_the_currency_given_and_says_what_products_counts(tmp_path, pg_server, settings):
    source = write(tmp_path, "uci_gbp.csv", MESSY_UCI)
    env = cli_env(tmp_path)
    done = profiteer("import", [str(source), "--currency", "gbp"], env)
    assert done.returncode == 0, done.stderr
    for line in (
        "products:        3 with sales",
        "units sold:      ",
        "currency:        GBP",
    ):
        assert line in done.stdout, done.stdout
    assert "currency: GBP" in (tmp_path / "inbox" / "uci_gbp.mapping.yaml").read_text()
    (summary,) = read_table(
        settings, "SELECT summary FROM imports_raw.imports WHERE name = 'uci_gbp'"
    ).iloc[0]
    assert summary["currency"] == "GBP"
    bad = profiteer("import", [str(source), "--name", "uci_bad", "--currency", "pounds"], env)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "`currency` must be a three-letter code such as GBP, not 'pounds'" in bad.stderr
    assert not schema_exists(settings, "import_uci_bad")
