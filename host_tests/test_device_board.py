"""boot.py + main.py as a board runs them, on the MicroPython unix port with the
virtual board's stand-in `network` and `machine` modules (tools/vboard_stubs).

The flash is laid out as tools/deploy.py leaves it (modules at the root, only
the gzipped page) and boot.py then main.py run in one interpreter, as the
firmware (and tools/vboard.py) runs them.
"""

import gzip
import json
import urllib.parse

import pytest
from conftest import REPO
from test_device_status import PAGE, board_flash, get_json, wait_output

STUBS = REPO / "tools" / "vboard_stubs"
BOARD = REPO / "boards" / "esp32" / "board.json"

pytestmark = [
    pytest.mark.parametrize("runtime", ["micropython"], indirect=True),
    pytest.mark.skipif(not (STUBS / "network.py").is_file(), reason="no virtual board stand-ins"),
]

POWER_ON = '''
for name in ("boot.py", "main.py"):
    with open(name) as f:
        source = f.read()
    exec(compile(source, name, "exec"), globals())
'''


def power_on(serve, tmp_path, config):
    flash = board_flash(tmp_path, config)
    (flash / "power_on.py").write_text(POWER_ON)
    board = json.loads(BOARD.read_text())
    server = serve(
        flash / "power_on.py",
        cwd=flash,
        pythonpath=(STUBS,),
        env={"VBOARD_BOARD": json.dumps(board)},
    )
    return server, flash, board


def test_board_joins_wifi_in_boot_and_serves_with_its_ip(serve, tmp_path):
    config = {
        "board": "esp32",
        "hostname": "httpserver-esp32",
        "wifi_ssid": "home",
        "wifi_password": "secret",
        "http_port": 0,
        "led_pin": 2,
        "max_connections": 8,
    }
    server, flash, board = power_on(serve, tmp_path, config)
    # The deploy tool waits for a line with http://IP:PORT/ that is not 0.0.0.0.
    wait_output(server, r"Serving on http://127\.0\.0\.1:%d/" % server.port)
    output = server.output()
    assert output.count("WiFi: joining home") == 1  # boot.py joined; main.py found it done
    assert "WiFi: connected to home, IP 127.0.0.1" in output
    data = get_json(server)
    assert data["wifi_mode"] == "sta" and data["wifi_ssid"] == "home"
    assert data["ip"] == "127.0.0.1" and data["rssi_dbm"] < 0
    assert data["cpu_hz"] == board["cpu_hz"] and data["board"] == "esp32"
    assert data["hostname"] == "httpserver-esp32" and data["reset_cause"] == "power-on"
    assert data["mac"].startswith("24:0a:c4:")
    status, headers, body = server.request("GET", "/", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and gzip.decompress(body) == PAGE.read_bytes()


def test_board_without_network_opens_setup_page_and_saves_credentials(serve, tmp_path):
    config = {"board": "esp32", "hostname": "kit", "http_port": 0, "led_pin": 2}
    config.update(dns_port=0, setup_restart_s=1)  # no DNS on the host's port 53
    server, flash, _ = power_on(serve, tmp_path, config)
    wait_output(server, r"access point kit-setup is up")
    status, headers, _ = server.request("GET", "/")
    assert status == 302 and headers["location"] == "http://127.0.0.1:%d/setup" % server.port
    status, headers, body = server.request("GET", "/setup")
    assert status == 200 and b"<form method=post action=/setup>" in body
    assert b'<option value="vboard-loopback">' in body  # what the scan found
    status, _, body = server.request("GET", "/status", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and gzip.decompress(body) == PAGE.read_bytes()
    assert get_json(server)["wifi_mode"] == "ap"

    status, _, body = server.request(
        "POST",
        "/setup",
        body=urllib.parse.urlencode({"ssid": "My <Net>", "password": "p@ss word&"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and b"joins My &lt;Net>" in body
    saved = json.loads((flash / "config.json").read_text())
    assert saved["wifi_ssid"] == "My <Net>" and saved["wifi_password"] == "p@ss word&"
    assert saved["hostname"] == "kit" and saved["led_pin"] == 2  # the rest is kept
    # Then the board restarts (the stand-in's machine.reset() ends the interpreter).
    assert server.wait(10) == 0
    assert "WiFi: saved network My <Net>, restarting" in server.output()


def test_setup_page_needs_a_network_name(serve, tmp_path):
    config = {"hostname": "kit", "http_port": 0, "dns_port": 0}
    server, flash, _ = power_on(serve, tmp_path, config)
    wait_output(server, r"access point")
    status, _, body = server.request(
        "POST",
        "/setup",
        body="ssid=+&password=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and b"network name is missing" in body
    assert "wifi_ssid" not in json.loads((flash / "config.json").read_text())
    assert server.alive()
