"""The status page in a real browser: Debian's chromium driven by Playwright.

On a phone-sized viewport the page renders the values, they change as
events arrive, the link is shown lost when the server goes away and live
again when it comes back. Screenshots are kept in host_tests/artifacts/.

Needs `chromium` (apt) and `playwright` (pip); never `playwright install`.
Skipped when either is missing, except under CI=true, where it must run.
"""

import os
import re
import shutil
import socket
import tempfile
import time

import pytest
from conftest import REPO
from test_deploy import vboard  # noqa: F401  (the virtual board fixture)
from test_device_status import APP_WITH_OWN_VALUE, DEVICE

ARTIFACTS = REPO / "host_tests" / "artifacts"
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"width": 390, "height": 844}
INTERVAL = "0.5"


def _missing():
    if not os.path.exists(CHROMIUM):
        return "chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing + " - required under CI")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport=PHONE,
            device_scale_factor=2,
            is_mobile=True,
            has_touch=True,
        )
        yield context
        context.close()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text(page, selector):
    return page.inner_text(selector).strip()


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def test_page_renders_updates_and_survives_server_restart(browser, serve, runtime):
    port = free_port()
    args = ("--host", "127.0.0.1", "--port", port, "--interval", INTERVAL)
    start = lambda: serve(APP_WITH_OWN_VALUE, args=args, pythonpath=(DEVICE,))  # noqa: E731
    server = start()
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url("/"))

    # Live: the badge, the values, the bar, the app's own value.
    page.wait_for_selector("#link.ok", timeout=10000)
    assert text(page, "#link") == "live"
    firmware = text(page, "[data-k=firmware]")
    assert firmware.startswith("CPython" if runtime == "cpython" else "MicroPython")
    assert re.fullmatch(r"[\d.]+ (KB|MB) used of [\d.]+ (KB|MB)", text(page, "#heap")), text(
        page, "#heap"
    )
    width = page.eval_on_selector("#heapbar", "e => parseFloat(e.style.width)")
    assert 0 < width < 100
    assert re.fullmatch(r"\d+ s ago|just now", text(page, "#upd"))
    assert text(page, "#app h2").lower() == "app" and "Soil moisture" in text(page, "#app")
    assert re.search(r"4[01] %", text(page, "#app"))
    assert text(page, "[data-k=requests]").isdigit()
    assert re.fullmatch(r"[\d.]+ [KMGT]?B free of [\d.]+ [KMGT]?B", text(page, "#fs")), text(
        page, "#fs"
    )
    if runtime == "cpython":
        assert text(page, "[data-k=cpu_hz]") == "240 MHz"
        assert re.fullmatch(
            r"-\d+ dBm \((excellent|good|fair|weak)\)", text(page, "[data-k=rssi_dbm]")
        )
        assert page.is_visible("#sim")
    else:
        # What the unix port cannot tell is shown as a dash, not "null".
        assert text(page, "[data-k=temp_c]") == "\u2014" and text(page, "[data-k=mac]") == "\u2014"
        assert not page.is_visible("#sim")
    assert "null" not in page.inner_text("main") and "undefined" not in page.inner_text("main")

    # Values change as events arrive, without a reload.
    before = text(page, "[data-k=uptime_s]")
    wait_for(lambda: text(page, "[data-k=uptime_s]") != before, 5, "the uptime to change")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / ("status_page_%s.png" % runtime)), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(ARTIFACTS / ("status_page_%s_dark.png" % runtime)))
    page.emulate_media(color_scheme="light")

    # The server goes away: the page says so, and keeps the last values.
    server.stop()
    page.wait_for_selector("#link.lost", timeout=10000)
    assert text(page, "#link") == "link lost" and page.is_visible("#banner")
    assert text(page, "[data-k=firmware]") == firmware
    time.sleep(0.5)  # let the fade finish
    page.screenshot(path=str(ARTIFACTS / ("status_page_%s_lost.png" % runtime)))

    # It comes back on the same address: the page reconnects by itself.
    time.sleep(1)
    server = start()
    page.wait_for_selector("#link.ok", timeout=15000)
    assert not page.is_visible("#banner")
    before = text(page, "[data-k=uptime_s]")
    wait_for(lambda: text(page, "[data-k=uptime_s]") != before, 5, "events after the restart")
    assert errors == []
    page.close()


def test_a_reload_of_the_page_is_answered_304(browser, serve, runtime):
    # Over weak Wi-Fi a reload must not send the page again: the browser
    # revalidates (no-cache) and the board answers 304 from the ETag. The
    # page sees the cached 200; the status on the wire comes from DevTools.
    port = free_port()
    args = ("--host", "127.0.0.1", "--port", port, "--interval", INTERVAL)
    server = serve(APP_WITH_OWN_VALUE, args=args, pythonpath=(DEVICE,))
    page = browser.new_page()
    devtools = browser.new_cdp_session(page)
    devtools.send("Network.enable")
    urls, on_the_wire = {}, []
    devtools.on(
        "Network.requestWillBeSent",
        lambda e: urls.__setitem__(e["requestId"], e["request"]["url"]),
    )
    devtools.on(
        "Network.responseReceivedExtraInfo",
        lambda e: on_the_wire.append((urls.get(e["requestId"]), e["statusCode"])),
    )
    page.goto(server.url("/"))
    page.wait_for_selector("#link.ok", timeout=10000)
    page.reload()
    page.wait_for_selector("#link.ok", timeout=10000)
    page_answers = [status for url, status in on_the_wire if url == server.url("/")]
    assert page_answers == [200, 304], on_the_wire
    assert text(page, "#link") == "live"
    page.close()


def test_update_section_uploads_a_bundle_and_shows_the_new_version(browser, vboard, tmp_path):  # noqa: F811
    # The whole way on a virtual ESP32-S3 (MicroPython): choose the bundle,
    # the progress bar fills, the board restarts, the page shows version 2.
    from test_device_update import TOKEN, bundle, compiled_plan, start_board, status_of

    plan = compiled_plan(tmp_path / "compiled")
    vb, port = start_board(vboard, bundle(plan, "1.0"))
    status_of(port)
    (tmp_path / "app.bin").write_bytes(bundle(plan, "2.0"))
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("http://127.0.0.1:%d/" % port)
    page.wait_for_selector("#link.ok", timeout=10000)
    assert text(page, "[data-k=app_version]") == "1.0"
    # Every progress event the page shows, as it shows them.
    page.evaluate(
        "window.seen=[];new MutationObserver(function(){seen.push($('ur').textContent)})"
        ".observe($('ur'),{childList:true,characterData:true,subtree:true})"
    )
    page.set_input_files("#uf", str(tmp_path / "app.bin"))
    page.fill("#ut", TOKEN)
    page.click("#ub")
    wait_for(
        lambda: text(page, "#ur") == "Updated: running version 2.0", 30, "the new version shown"
    )
    seen = page.evaluate("seen")
    assert any(re.fullmatch(r"Uploading \d+%", s) for s in seen), seen
    assert "Version 2.0 uploaded; the board restarts\u2026" in seen, seen
    assert page.eval_on_selector("#ubar", "e => parseFloat(e.style.width)") == 100
    assert text(page, "[data-k=app_version]") == "2.0"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "status_page_updated.png"), full_page=True)
    assert errors == []
    page.close()
