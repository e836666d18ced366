"""End to end in headless Chromium: the real app (streamlit run) on the test warehouse and MindsDB.

Opens the price simulation, moves the price slider with the keyboard, checks that the predicted
purchases change, and saves a screenshot under test-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from app_fixtures import APP_MODEL, REPO, closed_port

pytest_plugins = ["app_fixtures"]
pytestmark = [pytest.mark.browser, pytest.mark.mindsdb]

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PRODUCT = "P001"


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def running_app(app_db, app_model, mindsdb_url, tmp_path):
    """`streamlit run profiteer_app/Home.py` on a free port, stopped by its PID afterwards."""
    port = closed_port()
    env = {
        **os.environ,
        "PROFITEER_DATABASE_URL": app_db.dsn(),
        "PROFITEER_PG_PORT": str(app_db.port),
        "PROFITEER_WAREHOUSE_DB": app_db.database,
        "MINDSDB_URL": mindsdb_url,
        "PROFITEER_MODEL": APP_MODEL.qualified_name,
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
    }
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "profiteer_app/Home.py",
         "--server.headless", "true", "--server.address", "127.0.0.1",
         "--server.port", str(port)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
            assert time.monotonic() < deadline, "streamlit did not answer /_stcore/health"
            time.sleep(0.3)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)  # by PID: only the process this fixture started
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        log.close()


def metric_value(page, label_start: str) -> tuple[str, str]:
    """(label, value) of the st.metric whose label starts with `label_start`."""
    card = page.locator('[data-testid="stMetric"]').filter(
        has=page.locator('[data-testid="stMetricLabel"]', has_text=label_start)
    )
    card.first.wait_for(timeout=60_000)
    label = card.first.locator('[data-testid="stMetricLabel"]').inner_text()
    value = card.first.locator('[data-testid="stMetricValue"]').inner_text()
    return label.strip(), value.strip()


def wait_idle(page) -> None:
    """Until the script run has finished (Streamlit's running indicator is gone)."""
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)


def test_simulation_slider_in_chromium(running_app):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (apt-get install chromium)"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        try:
            page.goto(f"{running_app}/simulation?product={PRODUCT}", timeout=60_000)
            label, before = metric_value(page, "Predicted purchases/h at")
            assert label == "Predicted purchases/h at $1,200.00"  # P001's base price
            assert re.fullmatch(r"\d+\.\d", before), before
            page.get_by_text("Revenue curve").first.wait_for(timeout=60_000)
            wait_idle(page)

            thumb = page.locator('[data-testid="stSlider"]').get_by_role("slider").first
            thumb.focus()
            for _ in range(10):  # ten steps of $10 up: $1,300
                thumb.press("ArrowRight")
            page.locator('[data-testid="stMetricLabel"]', has_text="at $1,300.00").wait_for(
                timeout=120_000
            )
            label, after = metric_value(page, "Predicted purchases/h at")
            assert label == "Predicted purchases/h at $1,300.00"
            assert after != before, (before, after)
            assert float(after) < float(before)  # a higher price sells less
            page.get_by_text("Revenue curve").first.wait_for(timeout=60_000)
            wait_idle(page)
            # no traceback, no error banner anywhere on the page
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0
            shot = ARTIFACTS / "app-simulation.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000

            page.set_viewport_size({"width": 1400, "height": 1700})  # down to the hot products
            page.goto(f"{running_app}/", timeout=60_000)
            metric_value(page, "Revenue")
            page.get_by_text("Hot products").first.wait_for(timeout=60_000)
            wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "app-dashboard.png"), full_page=True)
            page.set_viewport_size({"width": 1400, "height": 1800})  # all three categories
            page.goto(f"{running_app}/catalog", timeout=60_000)
            page.get_by_text("Simulate price").first.wait_for(timeout=60_000)
            wait_idle(page)
            page.wait_for_load_state("networkidle")  # the pictures: image host fails, placeholder
            assert page.locator('div[role="img"]').count() == 15
            page.screenshot(path=str(ARTIFACTS / "app-catalog.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "app-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
