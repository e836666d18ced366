"""Order exports the import tests write themselves, and helpers to read what an import stored.

Import into a test module (`from import_fixtures import ...`); the fixtures build on conftest's
real embedded PostgreSQL (`pg_server`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import psycopg2

from profiteer_pipeline import settings as settings_mod

# A UCI-style export with every kind of mess, one line per case (line numbers in comments).
# Semicolons, decimal commas, a row-number column, month-first dates in two spellings.
MESSY_UCI = """\
"";"InvoiceNo";"StockCode";"Description";"Quantity";"InvoiceDate";"UnitPrice";"CustomerID";"Country"
"1";"536365";"85123A";"WHITE HANGING HEART";"6";"12/01/2010 08:26";"2,55";"17850";"United Kingdom"
"2";"536365";"71053";"WHITE METAL LANTERN";"6";"12/01/2010 08:26";"3,39";"17850";"United Kingdom"
"3";"C536379";"85123A";"WHITE HANGING HEART";"-1";"12/01/2010 09:41";"2,55";"14527";"United Kingdom"
"4";"536380";"71053";"WHITE METAL LANTERN";"2";"2/20/11 11:39";"3,39";"NA";"France"
"5";"536381";"";"NO PRODUCT";"1";"12/01/2010 08:26";"1,00";"";"United Kingdom"
"6";"536382";"71053";"WHITE METAL LANTERN";"NA";"12/01/2010 08:26";"3,39";"";"United Kingdom"
"7";"536365";"85123A";"WHITE HANGING HEART";"6";"12/01/2010 08:26";"2,55";"17850";"United Kingdom"
"8";"A563185";"B";"Adjust bad debt";"1";"12/01/2010 10:00";"-11062,06";"";"United Kingdom"
"9";"536384";"71053";"WHITE METAL LANTERN";"0";"12/01/2010 10:00";"3,39";"";"United Kingdom"
"10";"536385";"85123A";"WHITE HANGING HEART";"3";"12/01/2010 10:00";"0";"";"United Kingdom"
"11";"536386";"85123A";"WHITE HANGING HEART";"4";"not a date";"2,55";"";"United Kingdom"
"12";"536387";"22633";"HAND WARMER";"12";"12/13/2010 14:05";"1,85";"13047";"United Kingdom"
"13";"536388";"85123A";"WHITE HANGING HEART";"-2";"12/02/2010 10:00";"2,55";"";"United Kingdom"
"14";"536389";"85123A";"WHITE HANGING HEART";"1,5";"12/02/2010 11:00";"2,65";"";"United Kingdom"
"""
# line -> what the import must decide (the header is line 1)
MESSY_EXPECTED = {
    2: "sale",
    3: "sale",
    4: "return",  # cancelled invoice
    5: "sale",  # month-first 2/20/11, decided by 12/13/2010 and 2/20/11 themselves
    6: "missing product id",
    7: "missing quantity",
    8: "duplicate line",
    9: "negative price",
    10: "zero quantity",
    11: "zero price",
    12: "unreadable timestamp",
    13: "sale",
    14: "return",  # negative quantity
    15: "sale",  # a fractional quantity (sold by weight) is kept to 0.001
}

SHOPIFY = """\
Name,Email,Financial Status,Paid at,Created at,Lineitem quantity,Lineitem name,Lineitem price,Lineitem sku,Billing Country
#1001,a@example.com,paid,2024-03-04 10:15:00 +0100,2024-03-04 10:15:00 +0100,2,Blue Mug,12.50,MUG-BLUE,DE
#1001,,,,,1,Red Mug,12.50,MUG-RED,
#1002,b@example.com,paid,2024-03-04 11:40:00 +0100,2024-03-04 11:40:00 +0100,1,Blue Mug,11.00,MUG-BLUE,FR
#1003,c@example.com,paid,2024-03-04 13:05:00 +0100,2024-03-04 13:05:00 +0100,3,Tea Towel,7.90,TOWEL-1,DE
"""

AMBIGUOUS = """\
timestamp,product_id,quantity,price
03/04/2024 10:00,A,1,2.00
05/06/2024 11:00,A,2,2.00
07/08/2024 12:00,B,1,3.00
"""


def write(tmp: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp / name
    path.write_text(text, encoding=encoding)
    return path


def plain_frame(n_hours: int = 6, seed: int = 3) -> pd.DataFrame:
    """timestamp/product_id/quantity/price lines over a few hours, with a category."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n = n_hours * 5
    start = pd.Timestamp("2024-05-01T08:00:00Z")
    return pd.DataFrame(
        {
            "timestamp": start + pd.to_timedelta(rng.integers(0, n_hours * 60, n), unit="min"),
            "product_id": rng.choice(["P1", "P2", "P3"], n),
            "quantity": rng.integers(1, 5, n),
            "price": rng.choice([9.99, 10.49, 11.0], n),
            "category": "kitchen",
        }
    )


@contextmanager
def connection(settings: settings_mod.Settings):
    conn = psycopg2.connect(settings.warehouse.dsn())
    try:
        yield conn
    finally:
        conn.close()


def connector(settings):
    """A connection factory for run_import (each use opens and closes one)."""
    return lambda: connection(settings)


def read_table(settings, query: str, params=None) -> pd.DataFrame:
    with connection(settings) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        columns = [c.name for c in cur.description]
        return pd.DataFrame(cur.fetchall(), columns=columns)


def schema_exists(settings, schema: str) -> bool:
    with connection(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (schema,))
        return cur.fetchone() is not None


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    """A minimal .xlsx (one sheet, inline strings, numbers), written with zipfile alone: the
    pipeline's venv has no spreadsheet library; the File source's venv reads it with openpyxl."""
    import zipfile
    from xml.sax.saxutils import escape

    def cell(ref: str, value: object) -> str:
        if isinstance(value, int | float):
            return f'<c r="{ref}"><v>{value}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'

    body = "".join(
        f'<row r="{i}">'
        + "".join(cell(f"{chr(65 + j)}{i}", v) for j, v in enumerate(row))
        + "</row>"
        for i, row in enumerate(rows, start=1)
    )
    ns = "http://schemas.openxmlformats.org"
    parts = {
        "[Content_Types].xml": f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{ns}/spreadsheetml/2006/main" xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="Orders" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{body}</sheetData></worksheet>',
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


BIN = Path(sys.executable).parent


def profiteer(command: str, args, env, timeout: float = 600) -> subprocess.CompletedProcess:
    """`profiteer <command> <args>` as a user runs it: a subprocess, its output captured."""
    return subprocess.run(
        [str(BIN / "profiteer"), command, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def cli_env(tmp_path: Path) -> dict[str, str]:
    """The session's warehouse, a private inbox, and a Dagster URL nobody answers."""
    import socket

    with socket.socket() as s:  # a port nobody listens on: no Dagster
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return {
        **os.environ,  # the session's warehouse (PROFITEER_DATABASE_URL and the rest)
        "PROFITEER_INBOX": str(tmp_path / "inbox"),
        "PROFITEER_DAGSTER_URL": f"http://127.0.0.1:{port}",
    }
