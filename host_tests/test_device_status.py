"""The device status app (device/main.py) on CPython and the MicroPython unix port.

/api/status and /events, the values' types and units, null where the
platform cannot tell, the gzipped page, and an app's own value and route.
"""

import gzip
import http.client
import json
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest
from conftest import REPO, runtime_command, runtime_env

DEVICE = REPO / "device"
MAIN = DEVICE / "main.py"
PAGE = DEVICE / "www" / "index.html"
USAGE = "usage: main.py [--port 8000] [--host 127.0.0.1] [--interval 2] [--config FILE]"

PROBE_KEYS = (
    "board",
    "machine",
    "firmware",
    "platform",
    "simulated",
    "hostname",
    "uptime_s",
    "heap_free",
    "heap_used",
    "heap_total",
    "fs_free",
    "fs_total",
    "cpu_hz",
    "temp_c",
    "wifi_mode",
    "wifi_ssid",
    "rssi_dbm",
    "ip",
    "mac",
    "reset_cause",
)
TYPES = {
    "board": str,
    "machine": str,
    "firmware": str,
    "platform": str,
    "simulated": bool,
    "hostname": str,
    "uptime_s": int,
    "heap_free": int,
    "heap_used": int,
    "heap_total": int,
    "fs_free": int,
    "fs_total": int,
    "cpu_hz": int,
    "temp_c": float,
    "wifi_mode": str,
    "wifi_ssid": str,
    "rssi_dbm": int,
    "ip": str,
    "mac": str,
    "reset_cause": str,
    "requests": int,
    "connections": int,
}
# What the plain unix port (no network, no board machine module) cannot tell.
UNIX_NULLS = (
    "cpu_hz",
    "temp_c",
    "wifi_mode",
    "wifi_ssid",
    "rssi_dbm",
    "ip",
    "mac",
    "reset_cause",
    "hostname",
)


def get_json(server, path="/api/status"):
    status, headers, body = server.request("GET", path)
    assert status == 200, body
    assert headers["content-type"].startswith("application/json")
    return json.loads(body)


def check_types_and_units(data, runtime):
    for key in PROBE_KEYS + ("requests", "connections"):
        assert key in data, key
        value = data[key]
        if value is None:
            continue
        expected = TYPES[key]
        if expected is float:
            assert isinstance(value, (int, float)) and not isinstance(value, bool), (key, value)
        elif expected is int:
            assert isinstance(value, int) and not isinstance(value, bool), (key, value)
        else:
            assert isinstance(value, expected), (key, value)
    # Units: bytes add up, the clock is in Hz, the signal in dBm, degrees C.
    assert data["heap_used"] + data["heap_free"] == data["heap_total"]
    assert 0 < data["heap_used"] < data["heap_total"]
    assert 0 < data["fs_free"] <= data["fs_total"]
    assert data["uptime_s"] >= 0
    assert data["requests"] >= 0 and data["connections"] >= 1  # this request
    if data["cpu_hz"] is not None:
        assert 1_000_000 <= data["cpu_hz"] <= 10_000_000_000
    if data["rssi_dbm"] is not None:
        assert -120 <= data["rssi_dbm"] <= 0
    if data["temp_c"] is not None:
        assert -40 <= data["temp_c"] <= 125
    if data["mac"] is not None:
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", data["mac"]), data["mac"]
    if data["ip"] is not None:
        assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", data["ip"])
    assert data["platform"] == ("cpython" if runtime == "cpython" else "unix")
    assert data["simulated"] is (runtime == "cpython")


def read_events(server, count, path="/events", timeout=15):
    """The first count events of the stream: [(event name, data text, arrival time)]."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("Content-Type").startswith("text/event-stream")
        assert response.getheader("Cache-Control") == "no-cache"
        events = []
        name, data = "message", []
        deadline = time.monotonic() + timeout
        while len(events) < count and time.monotonic() < deadline:
            line = response.readline()
            if not line:
                break
            line = line.decode().rstrip("\r\n")
            if line == "":
                if data:
                    events.append((name, "\n".join(data), time.monotonic()))
                name, data = "message", []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        return events
    finally:
        conn.close()


@pytest.fixture
def status_app(serve):
    return serve(MAIN, args=("--host", "127.0.0.1", "--port", "0", "--interval", "0.5"))


def test_api_status_values_types_and_units(status_app, runtime):
    first = get_json(status_app)
    check_types_and_units(first, runtime)
    time.sleep(1.2)
    second = get_json(status_app)
    check_types_and_units(second, runtime)
    assert second["requests"] >= first["requests"] + 1
    assert 1 <= second["uptime_s"] - first["uptime_s"] <= 3
    assert second["firmware"] == first["firmware"]


def test_missing_apis_give_null(status_app, runtime):
    data = get_json(status_app)
    if runtime == "micropython":
        # The plain unix port: no network module, no machine.freq/reset_cause,
        # no temperature sensor; those are null, the rest is there.
        for key in UNIX_NULLS:
            assert data[key] is None, key
        assert data["firmware"].startswith("MicroPython ")
        assert data["board"] == "unix"
    else:
        # The simulated board has every value.
        assert [k for k in PROBE_KEYS if data[k] is None] == []
        assert data["firmware"].startswith("CPython ")
        assert data["ip"] == "127.0.0.1"


def test_events_stream_values_live(status_app, runtime):
    events = read_events(status_app, 6)
    assert len(events) == 6, events
    name, meta, _ = events[0]
    assert name == "fields"
    assert json.loads(meta) == {"interval": 0.5, "extra": []}
    readings = [json.loads(e[1]) for e in events[1:]]
    assert all(e[0] == "message" for e in events[1:])
    for data in readings:
        check_types_and_units(data, runtime)
    # Every interval (0.5 s) a new reading: uptime moves on, arrival is
    # paced. The first comes as the stream opens, the second at the
    # producer's next tick (the same moment for every viewer): from then on.
    gaps = [b[2] - a[2] for a, b in zip(events[2:], events[3:])]
    assert all(0.2 < gap < 2.0 for gap in gaps), gaps
    assert readings[-1]["uptime_s"] >= readings[0]["uptime_s"]
    assert readings[-1]["uptime_s"] - readings[0]["uptime_s"] <= 4
    if runtime == "cpython":
        # The simulated heap fills between collections: it changes every reading.
        assert len({r["heap_used"] for r in readings}) > 1


def test_open_streams_are_counted_and_forgotten(status_app):
    quiet = get_json(status_app)["connections"]
    conn = http.client.HTTPConnection(status_app.host, status_app.port, timeout=10)
    conn.request("GET", "/events")
    response = conn.getresponse()
    response.readline()
    time.sleep(0.3)
    assert get_json(status_app)["connections"] == quiet + 1
    conn.close()
    # A stream that stops asking for events stops counting within 2 intervals + 2 s.
    time.sleep(3.5)
    assert get_json(status_app)["connections"] == quiet


def test_page_is_served_gzipped(status_app):
    status, headers, body = status_app.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    html = gzip.decompress(body)
    assert html == PAGE.read_bytes()
    assert len(body) < 5000 and len(html) < 16000  # small enough for a board
    # A client without gzip gets the page as is when it exists (a checkout).
    status, headers, body = status_app.request("GET", "/", headers={"Accept-Encoding": "identity"})
    assert status == 200 and "content-encoding" not in headers and body == PAGE.read_bytes()


def test_gzipped_page_is_up_to_date():
    stored = (DEVICE / "www" / "index.html.gz").read_bytes()
    assert gzip.decompress(stored) == PAGE.read_bytes(), "run python tools/build_page.py"


def test_page_html_is_one_self_contained_file():
    html = PAGE.read_text()
    assert "<style>" in html and "<script>" in html
    # Nothing fetched from elsewhere: no external scripts, styles or fonts.
    assert not re.search(r'<(script|link)[^>]+(src|href)=', html)
    assert "EventSource(\"/events\")" in html


def wait_output(server, pattern, timeout=5):
    """Wait until the server's console shows pattern (a regex); returns the match."""
    deadline = time.monotonic() + timeout
    while True:
        match = re.search(pattern, server.output())
        if match or time.monotonic() > deadline:
            assert match, "no %r in:\n%s" % (pattern, server.output())
            return match
        time.sleep(0.05)


def board_flash(tmp_path, config=None):
    """A board's flash as deploy leaves it: modules at the root, only the .gz page."""
    flash = tmp_path / "flash"
    (flash / "www").mkdir(parents=True)
    for path in DEVICE.glob("*.py"):
        shutil.copy(path, flash / path.name)
    shutil.copy(DEVICE / "www" / "index.html.gz", flash / "www" / "index.html.gz")
    if config is not None:
        (flash / "config.json").write_text(json.dumps(config))
    return flash


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_board_layout_reads_config_and_serves_only_gz(serve, tmp_path):
    flash = board_flash(
        tmp_path, {"board": "esp32", "hostname": "kitchen", "http_port": 0, "status_interval_s": 1}
    )
    server = serve(flash / "main.py", cwd=flash)
    # Bound to 0.0.0.0 as on a board; then the line with an address to open.
    wait_output(server, r"Serving on http://127\.0\.0\.1:%d/" % server.port)
    data = get_json(server)
    assert data["board"] == "esp32" and data["hostname"] == "kitchen"
    status, headers, body = server.request("GET", "/")  # no Accept-Encoding at all
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == PAGE.read_bytes()
    assert json.loads(read_events(server, 1)[0][1])["interval"] == 1


@pytest.mark.parametrize("runtime", ["cpython"], indirect=True)
def test_cpython_reads_a_config_when_asked(serve, tmp_path):
    config = tmp_path / "board.json"
    config.write_text(json.dumps({"board": "pico_w", "hostname": "desk", "wifi_ssid": "lab"}))
    server = serve(MAIN, args=("--port", "0", "--config", config))
    assert "Serving on http://127.0.0.1:%d/" % server.port in server.output()
    data = get_json(server)
    assert (data["board"], data["hostname"], data["wifi_ssid"]) == ("pico_w", "desk", "lab")


APP_WITH_OWN_VALUE = '''
import status

calls = [0]

@status.value("soil_pct", "Soil moisture", "%")
def soil_pct():
    calls[0] += 1
    return 40 + calls[0] % 2

@status.value("broken")
def broken():
    raise OSError("sensor unplugged")

@status.app.get("/api/pump")
async def pump(request):
    return {"pumping": True, "soil_pct": soil_pct()}

status.run()
'''


def test_app_adds_its_own_value_and_route(serve):
    server = serve(
        APP_WITH_OWN_VALUE,
        args=("--host", "127.0.0.1", "--port", "0", "--interval", "0.5"),
        pythonpath=(DEVICE,),
    )
    data = get_json(server)
    assert data["soil_pct"] in (40, 41)
    assert data["broken"] is None  # a failing value is null, not an error
    assert "board" in data  # next to the built-in values
    assert get_json(server, "/api/pump")["pumping"] is True
    events = read_events(server, 3)
    meta = json.loads(events[0][1])
    assert meta["extra"] == [["soil_pct", "Soil moisture", "%"], ["broken", "broken", ""]]
    values = [json.loads(e[1])["soil_pct"] for e in events[1:]]
    assert set(values) <= {40, 41}


APP_COUNTING_READS = """
import status

reads = [0]

@status.value("reads")
def count_reads():
    reads[0] += 1
    return reads[0]

status.run()
"""


def read_events_together(server, viewers, count):
    """read_events(server, count) by several viewers at once."""
    results = [None] * viewers

    def view(i):
        results[i] = read_events(server, count)

    threads = [threading.Thread(target=view, args=(i,)) for i in range(viewers)]
    for t in threads:
        t.start()
    return threads, results


def test_four_viewers_share_one_reading_per_interval(serve):
    server = serve(
        APP_COUNTING_READS,
        args=("--host", "127.0.0.1", "--port", "0", "--interval", "0.5"),
        pythonpath=(DEVICE,),
    )
    threads, results = read_events_together(server, 4, 7)
    for t in threads:
        t.join(15)
    assert all(len(events) == 7 for events in results), results
    # Each viewer: the fields, the latest reading as it joins, then the
    # producer's readings, the same ones for all four.
    published = [[json.loads(e[1])["reads"] for e in events[2:]] for events in results]
    tail = published[0][-3:]
    assert all(p[-3:] == tail for p in published), published
    # Counted by the value function itself: one reading per interval
    # however many watch, each one a step of one (the welcome readings
    # included: a viewer that joins mid-interval gets the latest one).
    assert tail == [tail[0], tail[0] + 1, tail[0] + 2], published
    first, last = results[0][2], results[0][-1]
    elapsed = last[2] - first[2]
    read_count = json.loads(last[1])["reads"] - json.loads(first[1])["reads"]
    assert read_count <= elapsed / 0.5 + 1, (read_count, elapsed)


def test_led_switch_reaches_every_viewer_through_the_hub(status_app):
    threads, results = read_events_together(status_app, 2, 4)
    deadline = time.monotonic() + 5
    while get_json(status_app)["connections"] < 3:  # this request and the two streams
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert get_json(status_app)["led"] is False
    status, _, body = status_app.request(
        "POST", "/api/led", body=b'{"on": true}', headers={"Content-Type": "application/json"}
    )
    assert status == 200 and json.loads(body) == {"on": True}
    for t in threads:
        t.join(15)
    for events in results:
        # A new reading with it, at once: before the next interval's.
        assert [json.loads(e[1])["led"] for e in events[1:]] == [False, True, True], events
        assert events[2][2] - events[1][2] < 0.4, events
    assert get_json(status_app)["led"] is True
    # No body: a toggle.
    assert json.loads(status_app.request("POST", "/api/led")[2]) == {"on": False}


def test_unknown_path_and_method(status_app):
    assert status_app.request("GET", "/nope")[0] == 404
    assert status_app.request("POST", "/api/status")[0] == 405


@pytest.mark.parametrize("runtime", ["cpython"], indirect=True)
def test_ctrl_c_with_an_open_page_stops_at_once(serve):
    import signal

    server = serve(MAIN, args=("--port", "0", "--interval", "2"))
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    conn.request("GET", "/events")
    response = conn.getresponse()
    response.readline()
    time.sleep(2.5)  # the stream is now waiting for its next event
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    assert server.wait(8) == 0
    # Not the server's whole shutdown timeout (10 s): the stream ends at once.
    assert time.monotonic() - started < 3
    conn.close()


def test_failing_value_is_logged_once_with_its_error(serve):
    server = serve(
        APP_WITH_OWN_VALUE,
        args=("--host", "127.0.0.1", "--port", "0", "--interval", "0.5"),
        pythonpath=(DEVICE,),
    )
    for _ in range(3):
        assert get_json(server)["broken"] is None
        time.sleep(0.6)  # a new reading each time
    line = "status: value broken failed: OSError: sensor unplugged"
    assert server.output().count(line) == 1, server.output()


@pytest.mark.parametrize(
    "args, says",
    [
        (["--port", "abc"], "--port abc: not a valid port"),
        (["--port=70000"], "--port 70000: not a valid port"),
        (["--colour", "red"], "unknown option --colour"),
        (["-v"], "unknown option -v"),
        (["--interval"], "--interval needs a value"),
    ],
)
def test_command_line_mistake_is_one_line_and_the_usage(runtime, args, says):
    proc = subprocess.run(
        runtime_command(runtime) + [str(MAIN)] + args,
        env=runtime_env(runtime, pythonpath=(DEVICE,)),
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["main.py: error: " + says, USAGE], proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_busy_port_is_one_line_and_the_usage():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        proc = subprocess.run(
            runtime_command("cpython") + [str(MAIN), "--port", str(port)],
            env=runtime_env("cpython"),
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and "port is in use" in lines[0] and lines[1] == USAGE, proc.stderr
