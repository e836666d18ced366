"""End to end in headless Chromium: the real app (streamlit run) on the test warehouse and MindsDB.

Opens the price simulation, moves the price slider with the keyboard (answered from the stored
curve), checks that the purchases change; opens the Recommendations page, downloads its CSV and
opens a simulation from it; switches the sidebar's source to an imported order export and sees
its dashboard and price curve; saves screenshots under test-artifacts/ (git-ignored) for a person
to look at.
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
from contextlib import contextmanager

import pandas as pd
import pytest
from app_fixtures import APP_MODEL, IMPORTED, REPO, closed_port, query

pytest_plugins = ["app_fixtures", "recommendation_fixtures"]
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


@contextmanager
def serve(env_overrides: dict[str, str], tmp_path):
    """`streamlit run profiteer_app/Home.py` on a free port with these variables, stopped by its
    PID afterwards; yields its URL."""
    port = closed_port()
    env = {**os.environ, **env_overrides, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
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


def _warehouse_env(url) -> dict[str, str]:
    return {
        "PROFITEER_DATABASE_URL": url.dsn(),
        "PROFITEER_PG_PORT": str(url.port),
        "PROFITEER_WAREHOUSE_DB": url.database,
    }


@pytest.fixture
def running_app(app_db, app_model, app_recommendations, mindsdb_url, tmp_path):
    """The app on the simulated shop's test warehouse and the session's MindsDB."""
    env = {**_warehouse_env(app_db), "MINDSDB_URL": mindsdb_url,
           "PROFITEER_MODEL": APP_MODEL.qualified_name}  # fmt: skip
    with serve(env, tmp_path) as url:
        yield url


@pytest.fixture
def running_import_app(import_db, tmp_path):
    """The app on a warehouse holding two imports (no MindsDB: an import's pages never ask it)."""
    env = {**_warehouse_env(import_db), "MINDSDB_URL": f"http://127.0.0.1:{closed_port()}"}
    with serve(env, tmp_path) as url:
        yield url


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


def settled_metric(page, label_start: str, timeout: float = 60, slider=None) -> tuple[str, str]:
    """(label, value) of the metric "`label_start` <price>" once the page has settled after the
    slider moved: no script run in progress, the label names the price the slider shows, and a
    second reading half a second later is the same (no rerun still queued). Fails after `timeout`
    seconds with what it last saw. `slider`: the slider the metric follows (default: the first)."""
    shown = slider if slider is not None else page.locator('[data-testid="stSlider"]').first
    shown = shown.locator('[data-testid="stSliderThumbValue"]').first
    deadline = time.monotonic() + timeout
    previous = None
    while True:
        wait_idle(page)
        label, value = metric_value(page, label_start)
        price = shown.inner_text().split("·")[0].strip()  # "$12.99 · best" -> "$12.99"
        reading = (label, value, price)
        if label.endswith(f" at {price}") and reading == previous:
            return label, value
        assert time.monotonic() < deadline, (
            f"the metric {label_start!r} did not settle within {timeout:.0f} s: last read "
            f"{label!r} = {value!r} with the slider at {price!r}"
        )
        previous = reading
        page.wait_for_timeout(500)  # the polling interval, not a guess at how long a rerun takes


def launch(pw):
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (apt-get install chromium)"
    ARTIFACTS.mkdir(exist_ok=True)
    return pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


def no_errors(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def test_simulation_slider_in_chromium(running_app):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1500})
        try:
            page.goto(f"{running_app}/simulation?product={PRODUCT}&bucket=Afternoon",
                      timeout=60_000)  # fmt: skip
            label, before = metric_value(page, "Purchases/h at")
            assert re.fullmatch(r"\d+\.\d", before), before
            page.get_by_text("Stored curve, interpolated").first.wait_for(timeout=60_000)
            wait_idle(page)

            # the time of day's slider (its key's class), below the per-day one
            thumb = page.locator(f".st-key-price_{PRODUCT}").get_by_role("slider")
            thumb.focus()
            t0 = time.monotonic()
            for _ in range(8):  # eight steps up the price
                thumb.press("ArrowRight")
            page.locator('[data-testid="stMetricLabel"]', has_text="Purchases/h at").filter(
                has_not_text=label.split(" at ")[1]
            ).wait_for(timeout=30_000)
            wait_idle(page)
            print(f"slider: 8 steps answered in {time.monotonic() - t0:.2f} s")
            new_label, after = settled_metric(
                page, "Purchases/h at", slider=page.locator(f".st-key-price_{PRODUCT}")
            )  # after any queued rerun
            assert new_label != label
            assert float(after) <= float(before)  # a higher price never sells more (smoothed)
            no_errors(page)
            shot = ARTIFACTS / "app-simulation.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 20_000

            page.set_viewport_size({"width": 1400, "height": 2300})  # down to the hot products
            page.goto(f"{running_app}/", timeout=60_000)
            metric_value(page, "Revenue")
            page.get_by_text("Hot products").first.wait_for(timeout=60_000)
            wait_idle(page)
            page.screenshot(path=str(ARTIFACTS / "app-dashboard.png"), full_page=True)
            page.set_viewport_size({"width": 1400, "height": 1900})  # all three categories
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


def test_recommendations_page_and_csv_in_chromium(running_app, app_db, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1500, "height": 1400}, accept_downloads=True)
        try:
            page.goto(f"{running_app}/recommendations", timeout=60_000)
            label, value = metric_value(page, "Applying all recommendations")
            assert re.fullmatch(r"[+−]\$[\d.,]+[kM]?/day", value), value
            # the table by time of day (its key's class): the per-product advice comes first
            by_bucket = page.locator('.st-key-rec_table [data-testid="stDataFrame"]')
            by_bucket.wait_for(timeout=60_000)
            wait_idle(page)
            no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "app-recommendations.png"), full_page=True)

            with page.expect_download(timeout=60_000) as download:
                page.locator(".st-key-rec_csv").get_by_role("button", name="Download CSV").click()
            path = tmp_path / "recommendations.csv"
            download.value.save_as(path)
            assert download.value.suggested_filename == "price_recommendations.csv"
            csv = pd.read_csv(path)
            assert len(csv) == 60 and {"product_id", "recommended_price", "gain_per_day"} <= set(
                csv.columns
            )
            assert list(csv["gain_per_day"]) == sorted(csv["gain_per_day"], reverse=True)

            # clicking a row (its selection box, left of the first row) opens its simulation
            box = by_bucket.bounding_box()
            page.mouse.click(box["x"] + 16, box["y"] + 52)
            page.get_by_text("Stored curve, interpolated").first.wait_for(timeout=60_000)
            wait_idle(page)
            first = csv.iloc[0]
            assert "/simulation" in page.url and f"product={first['product_id']}" in page.url
            assert f"bucket={first['time_of_day_bucket']}" in page.url
            no_errors(page)
            # and the picker with its button does the same
            page.goto(f"{running_app}/recommendations", timeout=60_000)
            page.locator(".st-key-rec_open").get_by_role("button", name="Open simulation").click()
            page.get_by_text("Stored curve, interpolated").first.wait_for(timeout=60_000)
            wait_idle(page)
            assert "/simulation" in page.url and f"product={first['product_id']}" in page.url
            no_errors(page)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "app-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def test_an_import_in_chromium(running_import_app, import_db):
    """The sidebar's switch to an import: its dashboard, then (the choice kept) its price curve,
    whose slider answers from the stored curve."""
    from playwright.sync_api import sync_playwright

    (units,) = query(import_db, "SELECT sum(units) FROM import_test_shop.daily")[0]
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 2000})
        try:
            page.goto(f"{running_import_app}/", timeout=60_000)
            wait_idle(page)
            switch = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').first
            switch.click()
            page.get_by_role("option", name=re.compile(f"^Import: {IMPORTED} ")).click()
            assert metric_value(page, "Total units sold")[1] == f"{round(float(units)):,}"
            page.get_by_text("The file's lines").first.wait_for(timeout=60_000)
            wait_idle(page)
            assert f"source={IMPORTED}" in page.url
            page.locator('[data-testid="stPlotlyChart"]').first.wait_for(timeout=60_000)
            # per day, then the latest day's hours (the metric tables every source has)
            assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
            no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "app-import-dashboard.png"), full_page=True)

            page.locator('[data-testid="stSidebarNav"]').get_by_text("Price simulation").click()
            label, before = metric_value(page, "Units/day at")
            page.get_by_text("Stored curve, interpolated").first.wait_for(timeout=60_000)
            wait_idle(page)
            assert f"source={IMPORTED}" in page.url
            page.locator('[data-testid="stPlotlyChart"]').nth(1).wait_for(timeout=60_000)
            assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
            thumb = page.locator('[data-testid="stSlider"]').get_by_role("slider").first
            thumb.focus()
            for _ in range(6):  # six steps down the price
                thumb.press("ArrowLeft")
            page.locator('[data-testid="stMetricLabel"]', has_text="Units/day at").filter(
                has_not_text=label.split(" at ")[1]
            ).wait_for(timeout=30_000)
            _, after = settled_metric(page, "Units/day at")  # after any queued rerun
            assert float(after) > float(before)  # a lower price sells more on this curve
            no_errors(page)
            page.screenshot(path=str(ARTIFACTS / "app-import-simulation.png"), full_page=True)

            for path, shown in (("recommendations", "Too little data for a price curve"),
                                ("catalog", "3 of 3 products")):  # fmt: skip
                page.goto(f"{running_import_app}/{path}?source={IMPORTED}", timeout=60_000)
                page.get_by_text(shown).first.wait_for(timeout=60_000)
                page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
                wait_idle(page)
                no_errors(page)
                page.screenshot(path=str(ARTIFACTS / f"app-import-{path}.png"), full_page=True)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "app-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
