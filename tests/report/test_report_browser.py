"""report.html in a real browser: headless Chromium driven by chromedriver (see tests/support/webdriver.py).

Checks that every image decodes, that the console logs no error, and that the page fits a
phone's width; saves desktop and phone screenshots under test-artifacts/ (git-ignored).
Skipped when Chromium or chromedriver is not installed.
"""

from __future__ import annotations

import pytest
from support.webdriver import ARTIFACTS, NEEDS_CHROMIUM, WebDriver

pytestmark = NEEDS_CHROMIUM


@pytest.fixture
def browser(tmp_path):
    driver = WebDriver(tmp_path / "chromium-profile")
    yield driver
    driver.close()


def test_report_in_headless_chromium(full_report, browser):
    browser.cmd("POST", "/url", {"url": full_report.resolve().as_uri()}, timeout=120)
    state = browser.script("return document.readyState")
    assert state == "complete"

    images = browser.script(
        "return Array.from(document.images).map(i => [i.alt.split(':')[0], i.complete, i.naturalWidth])"
    )
    assert len(images) >= 10
    broken = [name for name, complete, width in images if not (complete and width > 0)]
    assert not broken, f"images that did not decode: {broken}"

    logs = browser.cmd("POST", "/se/log", {"type": "browser"})
    errors = [entry for entry in logs if entry.get("level") in ("SEVERE", "ERROR")]
    assert not errors, errors

    # desktop: the whole page in one screenshot
    height = browser.script("return document.documentElement.scrollHeight")
    browser.cmd("POST", "/window/rect", {"width": 1100, "height": min(int(height) + 40, 16000)})
    browser.screenshot(ARTIFACTS / "report-desktop.png")

    # phone: 390 css px wide, as a phone would lay it out; nothing may overflow sideways
    browser.cdp(
        "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
    )
    width = browser.script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, f"the page is wider than a phone screen: {width}"
    too_wide = browser.script(
        "return Array.from(document.images).filter(i => i.getBoundingClientRect().width > window.innerWidth)"
        ".map(i => i.alt.split(':')[0])"
    )
    assert not too_wide, too_wide
    browser.screenshot(ARTIFACTS / "report-phone.png")
    assert (ARTIFACTS / "report-phone.png").stat().st_size > 10_000
