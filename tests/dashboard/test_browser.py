"""The dashboard in a real browser: Debian's headless Chromium driven by selenium,
against the `make run` topology (nginx, the gunicorn pools, the uvicorn stream).

Log in, search, open an event, export, watch a live event arrive in the tail,
pause it, and fail to see another tenant's data through any page, URL or
fragment. Screenshots of the pages go to SCREENSHOT_DIR (default
.run/screenshots; `SCREENSHOT_DIR=docs/screenshots` refreshes the README's).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from pathlib import Path

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from tests.fixtures import PASSWORD
from tests.logs.conftest import at, event_body, seed
from tests.processes import served

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
if CHROMIUM is None or CHROMEDRIVER is None:
    pytest.fail(
        "chromium and chromium-driver are required: scripts/test.sh installs them with apt",
        pytrace=False,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ready  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

B_MARKER = "B_ONLY_SECRET"


@pytest.fixture(scope="module")
def site(test_env):
    with served(test_env, web_workers=2, export_workers=1) as ports:
        yield f"http://127.0.0.1:{ports.public}"


@pytest.fixture
def downloads(tmp_path) -> Path:
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@pytest.fixture
def browser(downloads):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def shot(driver, name: str) -> None:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / ".run" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / f"{name}.png"))


def wait(driver, condition, seconds: float = 10):
    return WebDriverWait(driver, seconds, poll_frequency=0.02).until(condition)


def log_in(driver, site: str, username: str) -> None:
    driver.get(f"{site}/login/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait(driver, ready.presence_of_element_located((By.CSS_SELECTOR, "nav[aria-label=Main]")))


def post_event(site: str, user, body: dict) -> None:
    request = urllib.request.Request(  # noqa: S310 - our own server
        f"{site}/api/v1/logs",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {AccessToken.for_user(user)}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - our own server
        assert answer.status == 201


@pytest.fixture
def seeded(parties):
    a = seed(
        parties,
        "tenant-a",
        [
            event_body(
                action="INVOICE_UPDATE",
                user_id="ursula",
                resource_type="invoice",
                resource_id="inv-42",
                severity="WARNING",
                request_id="req-browser-1",
                before={"amount": 100, "status": "draft"},
                after={"amount": 120, "status": "sent"},
                timestamp=at(30),
            ),
            *[
                event_body(action=action, user_id=user, severity=severity, timestamp=at(minutes))
                for minutes, (action, user, severity) in enumerate(
                    [
                        ("USER_LOGIN", "ursula", "INFO"),
                        ("USER_LOGIN", "arthur", "INFO"),
                        ("REPORT_EXPORT", "arthur", "INFO"),
                        ("PERMISSION_DENIED", "ursula", "ERROR"),
                        ("USER_LOGOUT", "ursula", "INFO"),
                        ("SETTINGS_CHANGE", "alice", "CRITICAL"),
                    ]
                    * 4,
                    start=1,
                )
            ],
        ],
    )
    b = seed(
        parties,
        "tenant-b",
        [
            event_body(
                tenant_id="tenant-b",
                action=B_MARKER,
                user_id="bob",
                request_id="req-browser-1",
                resource_id="b-resource",
                timestamp=at(20),
            )
        ],
    )
    return {"a": a, "b": b}


def test_log_in_search_open_an_event_and_export(site, browser, seeded, downloads):
    log_in(browser, site, "arthur")
    wait(browser, ready.presence_of_element_located((By.CSS_SELECTOR, "canvas[data-chart]")))
    time.sleep(0.3)  # the charts draw once their script has run
    shot(browser, "overview")
    assert B_MARKER not in browser.page_source

    browser.get(f"{site}/events/")
    field = browser.find_element(By.ID, "f-action")
    field.send_keys("USER_LOGIN")
    field.submit()
    wait(browser, ready.url_contains("action=USER_LOGIN"))
    rows = browser.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    assert len(rows) == 8
    assert all("USER_LOGIN" in row.text for row in rows)
    shot(browser, "search")

    browser.get(f"{site}/events/")
    browser.find_element(By.ID, "f-q").send_keys("inv-42")
    browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait(browser, ready.url_contains("q=inv-42"))
    # The invoice's update, whichever row it is (another event may mention
    # inv-42 too, e.g. the service's record of an earlier search for it).
    found = browser.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    update = [row for row in found if "INVOICE_UPDATE" in row.text]
    assert update, [row.text for row in found]
    update[0].find_element(By.CSS_SELECTOR, "td a").click()
    wait(browser, ready.presence_of_element_located((By.CSS_SELECTOR, "table.diff")))
    changed = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.diff tr.changed")]
    assert any(text.startswith("amount") and "100" in text and "120" in text for text in changed), (
        changed,
        browser.current_url,
    )
    shot(browser, "event")

    browser.find_element(By.PARTIAL_LINK_TEXT, "req-browser-1").click()
    wait(browser, ready.presence_of_element_located((By.CSS_SELECTOR, "ol.timeline")))
    assert "INVOICE_UPDATE" in browser.page_source and B_MARKER not in browser.page_source

    browser.get(f"{site}/events/?action=USER_LOGIN")
    browser.find_element(By.LINK_TEXT, "CSV").click()
    deadline = time.monotonic() + 15
    files: list[Path] = []
    while time.monotonic() < deadline:
        files = [f for f in downloads.iterdir() if not f.name.endswith(".crdownload")]
        if files:
            break
        time.sleep(0.1)
    assert files, "the CSV export did not download"
    text = files[0].read_text()
    assert text.count("USER_LOGIN") == 8 and B_MARKER not in text


def test_a_live_event_arrives_in_the_tail_within_a_second_and_pause_holds_it(
    site, browser, parties, seeded
):
    log_in(browser, site, "arthur")
    browser.get(f"{site}/live/")
    wait(browser, lambda d: d.find_element(By.ID, "tail").get_attribute("data-state") == "live")
    # Tenant B's event first: it must never show in A's tail.
    post_event(site, parties.b_admin, event_body(tenant_id="tenant-b", action=B_MARKER))
    posted = time.monotonic()
    post_event(site, parties.a_admin, event_body(action="LIVE_ARRIVAL", user_id="ursula"))
    wait(browser, ready.text_to_be_present_in_element((By.ID, "tail-rows"), "LIVE_ARRIVAL"))
    arrived = time.monotonic() - posted
    assert arrived < 1.0, f"the live event took {arrived:.2f} s to show"
    assert B_MARKER not in browser.find_element(By.ID, "tail-rows").text
    shot(browser, "live")

    browser.find_element(By.ID, "pause").click()
    post_event(site, parties.a_admin, event_body(action="HELD_WHILE_PAUSED", user_id="ursula"))
    wait(browser, ready.text_to_be_present_in_element((By.ID, "held"), "1 new while paused"))
    assert "HELD_WHILE_PAUSED" not in browser.find_element(By.ID, "tail-rows").text
    browser.find_element(By.ID, "pause").click()
    wait(browser, ready.text_to_be_present_in_element((By.ID, "tail-rows"), "HELD_WHILE_PAUSED"))


def test_no_page_url_or_fragment_shows_another_tenants_data(site, browser, parties, seeded):
    log_in(browser, site, "alice")
    b_event = seeded["b"][0]
    pages = [
        "/",
        "/?range=30d",
        "/events/",
        f"/events/?q={B_MARKER}",
        "/events/?tenant_id=tenant-b",
        f"/events/{b_event}/",
        "/correlation/?request_id=req-browser-1",
        "/live/?action=" + B_MARKER,
        "/members/",
        "/settings/",
        "/api/v1/logs?tenant_id=tenant-b",
        f"/api/v1/logs/{b_event}?tenant_id=tenant-a",
        "/api/v1/logs/stats?tenant_id=tenant-b",
        "/api/v1/logs/export?tenant_id=tenant-b&format=json",
        "/api/v1/tenants/tenant-b/members",
        "/admin/",
    ]
    for path in pages:
        browser.get(site + path)
        source = browser.page_source
        # B's values that no URL here names (a search box echoes what was typed).
        secrets = ["b-resource", "bianca", "Tenant B"] + ([] if B_MARKER in path else [B_MARKER])
        for secret in secrets:
            assert secret not in source, f"{secret} shown at {path}"
    browser.get(f"{site}/events/{b_event}/")
    assert "Not found" in browser.title
    # The switcher offers only alice's tenant: no form to switch at all.
    assert not browser.find_elements(By.ID, "tenant-switch")
