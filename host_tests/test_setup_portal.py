"""The setup portal (device/dnsportal.py, device/wifisetup.py): a phone that
joins the board's access point opens the setup page by itself.

The DNS responder answers on loopback, on an unprivileged port; the web side
runs as host_tests/apps/portal_app.py (wifisetup alone) on both runtimes and
as the whole device app on the virtual board (boot.py + main.py).
"""

import base64
import importlib.util
import json
import random
import shutil
import socket
import struct
import subprocess
import sys
import urllib.parse

import pytest
from conftest import LIB, REPO, runtime_command, runtime_env
from test_device_board import BOARD, POWER_ON, power_on
from test_device_memory import compile_library, smallest_heap
from test_device_status import board_flash, wait_output

DEVICE = REPO / "device"
STUBS = REPO / "tools" / "vboard_stubs"
APP = REPO / "host_tests" / "apps" / "portal_app.py"
BOARD_IP = bytes((127, 0, 0, 1))


def load_dnsportal():
    # From its file, without device/ on sys.path: its other modules (status,
    # probe, main, ...) would shadow names for the rest of the session. Its
    # httpserver.runtime from this checkout's lib/, as in the subprocesses.
    if str(LIB) not in sys.path:
        sys.path.insert(0, str(LIB))
    spec = importlib.util.spec_from_file_location("dnsportal", DEVICE / "dnsportal.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


dnsportal = load_dnsportal()

# The URLs phones and browsers fetch to find out whether they are online.
CHECKS = [
    ("connectivitycheck.gstatic.com", "/generate_204"),  # Android
    ("clients3.google.com", "/generate_204"),
    ("www.google.com", "/gen_204"),  # Chrome
    ("captive.apple.com", "/hotspot-detect.html"),  # iOS, macOS
    ("www.apple.com", "/library/test/success.html"),
    ("www.msftconnecttest.com", "/connecttest.txt"),  # Windows
    ("www.msftncsi.com", "/ncsi.txt"),
    ("detectportal.firefox.com", "/canonical.html"),  # Firefox
    ("detectportal.firefox.com", "/success.txt"),
]


def query(name, qtype=1, qid=0x1234, flags=0x0100, qdcount=1):
    """A DNS query built by hand: header, one question (RD set, as phones send)."""
    packet = struct.pack(">HHHHHH", qid, flags, qdcount, 0, 0, 0)
    for label in name.split("."):
        packet += bytes([len(label)]) + label.encode()
    return packet + b"\x00" + struct.pack(">HH", qtype, 1)


def parse_answer(packet):
    """(id, flags, qdcount, ancount, [(type, ttl, rdata)]) of a reply to a query()."""
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", packet[:12])
    i = 12
    while packet[i]:
        i += packet[i] + 1
    i += 5
    answers = []
    for _ in range(an):
        assert packet[i : i + 2] == b"\xc0\x0c"  # points at the question's name
        rtype, rclass, ttl, length = struct.unpack(">HHIH", packet[i + 2 : i + 12])
        assert rclass == 1
        answers.append((rtype, ttl, packet[i + 12 : i + 12 + length]))
        i += 12 + length
    assert i == len(packet)
    return qid, flags, qd, an, answers


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ask(port, packet, timeout=2.0):
    """Send one datagram to the responder; its reply, or None when none came."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(packet, ("127.0.0.1", port))
        try:
            return sock.recv(4096)
        except socket.timeout:
            return None


# -- the pure parse: reply(bytes) -> bytes or None ------------------------------


@pytest.mark.parametrize("name", ["connectivitycheck.gstatic.com", "captive.apple.com", "a", "x.y"])
def test_reply_answers_a_queries_with_the_board_address(name):
    qid, flags, qd, an, answers = parse_answer(dnsportal.reply(query(name), BOARD_IP))
    assert qid == 0x1234 and qd == 1 and an == 1
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x000F == 0  # QR, RD kept, NOERROR
    assert answers == [(1, dnsportal.TTL, BOARD_IP)]


@pytest.mark.parametrize("qtype", [28, 5, 15, 16, 65, 255])  # AAAA, CNAME, MX, TXT, HTTPS, ANY
def test_reply_answers_other_types_with_no_records(qtype):
    qid, flags, qd, an, answers = parse_answer(
        dnsportal.reply(query("captive.apple.com", qtype), BOARD_IP)
    )
    assert flags & 0x8000 and flags & 0x000F == 0 and an == 0 and answers == []


def test_reply_answers_a_query_with_an_edns_record():
    # Many resolvers add an OPT record (ARCOUNT 1) after the question.
    packet = bytearray(query("example.com"))
    packet[11] = 1
    packet += b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
    assert parse_answer(dnsportal.reply(bytes(packet), BOARD_IP))[4] == [(1, 60, BOARD_IP)]


MALFORMED = {
    "empty": b"",
    "truncated header": query("a.b")[:11],
    "truncated question": query("example.com")[:-3],
    "label past the end": query("example.com")[:14],
    "compression pointer": struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0)
    + b"\xc0\x0c\x00\x01\x00\x01",
    "reserved label type": struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0)
    + b"\x41"
    + b"a" * 65
    + b"\x00\x00\x01\x00\x01",
    "name over 255 bytes": query(".".join(["a" * 63] * 5)),
    "oversized": query("example.com") + b"\x00" * 600,
    "response": query("example.com", flags=0x8180),
    "not a standard query": query("example.com", flags=0x2800),  # OPCODE 5: UPDATE
    "no question": query("example.com", qdcount=0),
    "two questions": query("example.com", qdcount=2),
    "garbage": bytes(range(256)),
}


@pytest.mark.parametrize("packet", MALFORMED.values(), ids=MALFORMED.keys())
def test_reply_ignores_malformed_packets(packet):
    assert dnsportal.reply(packet, BOARD_IP) is None


def test_reply_never_raises_on_random_and_mutated_packets():
    rng = random.Random(17)
    seeds = [query("connectivitycheck.gstatic.com"), query("captive.apple.com", 28)]
    seeds += list(MALFORMED.values())
    answered = 0
    for n in range(5000):
        if n % 3 == 0:
            packet = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 600)))
        else:
            packet = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 6)):
                if packet and rng.random() < 0.7:
                    packet[rng.randrange(len(packet))] = rng.getrandbits(8)
                elif rng.random() < 0.5:
                    del packet[rng.randrange(len(packet) + 1) :]
                else:
                    packet += bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 20)))
            packet = bytes(packet)
        answer = dnsportal.reply(packet, BOARD_IP)
        if answer is not None:
            answered += 1
            assert answer[:2] == packet[:2] and answer[2] & 0x80
            assert len(answer) <= len(packet) + 16 + 12
    assert answered > 100  # the mutations keep enough queries valid to check answers too


# -- the responder on a socket, both runtimes ------------------------------------


@pytest.fixture
def portal(serve, runtime):
    def start(config=None):
        dns_port = free_udp_port()
        server = serve(
            APP,
            args=(dns_port, json.dumps(config or {})),
            pythonpath=(DEVICE, STUBS),
        )
        wait_output(server, r"DNS: answering every name with 127\.0\.0\.1 on port %d" % dns_port)
        server.dns_port = dns_port
        return server

    return start


def test_responder_answers_and_survives_garbage(portal):
    server = portal()
    port = server.dns_port
    for name in ("connectivitycheck.gstatic.com", "captive.apple.com", "www.msftconnecttest.com"):
        answers = parse_answer(ask(port, query(name, qid=len(name))))
        assert answers[0] == len(name) and answers[4] == [(1, 60, BOARD_IP)]
    assert parse_answer(ask(port, query("captive.apple.com", 28)))[3:] == (0, [])
    for packet in MALFORMED.values():
        assert ask(port, packet, timeout=0.3) is None
    rng = random.Random(53)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(200):  # a burst of garbage, faster than it is read
            sock.sendto(
                bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 80))), ("127.0.0.1", port)
            )
    for name in ("detectportal.firefox.com", "example.org"):
        assert parse_answer(ask(port, query(name)))[4] == [(1, 60, BOARD_IP)]
    assert server.alive() and "Traceback" not in server.output()


def test_busy_dns_port_is_told_and_the_pages_still_serve(serve):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        server = serve(APP, args=(port, "{}"), pythonpath=(DEVICE, STUBS))
        wait_output(server, r"DNS: cannot answer on port %d" % port)
        status, _, body = get(server, "127.0.0.1:%d" % server.port, "/setup")
        assert status == 200 and server.alive()


# -- the web side: connectivity checks, other hosts, the save -------------------


def get(server, host, path):
    return server.request("GET", path, headers={"Host": host})


@pytest.mark.parametrize("host,path", CHECKS)
def test_connectivity_checks_redirect_to_the_setup_page(portal, host, path):
    server = portal()
    setup = "http://127.0.0.1:%d/setup" % server.port
    status, headers, body = get(server, host, path)
    assert (status, headers["location"], body) == (302, setup, b"")
    # The same path asked of the board's own address: a redirect too.
    status, headers, _ = get(server, "127.0.0.1:%d" % server.port, path)
    assert (status, headers["location"]) == (302, setup)


def test_other_hosts_and_unknown_paths_redirect_but_board_pages_serve(portal):
    server = portal({"hostname": "kit"})
    setup = "http://127.0.0.1:%d/setup" % server.port
    for host, path in [("example.com", "/"), ("example.com", "/status"), ("kit.local", "/nope")]:
        status, headers, _ = get(server, host, path)
        assert (status, headers["location"]) == (302, setup), (host, path)
    for host in ("127.0.0.1:%d" % server.port, "kit.local", "KIT"):
        status, _, body = get(server, host, "/status")
        assert (status, body) == (200, b"the board's own page"), host
        status, _, body = get(server, host, "/setup")
        assert status == 200 and b"<form method=post action=/setup>" in body


def save(server, ssid, password, accept=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if accept:
        headers["Accept"] = accept
    body = urllib.parse.urlencode({"ssid": ssid, "password": password})
    return server.request("POST", "/setup", body=body, headers=headers)


def test_saved_credentials_reply_tells_the_new_address(portal, tmp_path):
    server = portal({"hostname": "kit", "setup_restart_s": 60})
    status, headers, body = save(server, "home", "secret", accept="application/json")
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert json.loads(body) == {
        "joined": True,
        "ssid": "home",
        "ip": "127.0.0.1",
        "url": "http://127.0.0.1/",
        "mdns_url": "http://kit.local/",
    }
    status, _, body = save(server, "home", "secret")
    assert status == 200 and b"<a href=http://127.0.0.1/>" in body
    assert b"<a href=http://kit.local/>" in body
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["wifi_ssid"], saved["wifi_password"]) == ("home", "secret")


def test_network_that_cannot_be_joined_is_told_and_not_saved(portal, tmp_path):
    server = portal({"hostname": "kit", "refuse_ssid": "home", "wifi_timeout_s": 3})
    status, _, body = save(server, "home", "wrong")
    assert status == 400 and b"could not join home: check the name and password" in body
    status, _, body = save(server, "home", "wrong", accept="application/json")
    assert (status, json.loads(body)) == (400, {"joined": False, "ssid": "home"})
    assert not (tmp_path / "config.json").exists()
    assert "WiFi: could not join home" in server.output()
    status, _, body = get(server, "127.0.0.1:%d" % server.port, "/setup")  # the form is still up
    assert status == 200 and server.alive()


# -- the whole device app on the virtual board -----------------------------------


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_board_in_setup_mode_is_a_captive_portal(serve, tmp_path):
    dns_port = free_udp_port()
    config = {"board": "esp32", "hostname": "kit", "http_port": 0, "dns_port": dns_port}
    config["setup_restart_s"] = 1
    server, flash, _ = power_on(serve, tmp_path, config)
    wait_output(server, r"DNS: answering every name with 127\.0\.0\.1 on port %d" % dns_port)
    assert parse_answer(ask(dns_port, query("captive.apple.com")))[4] == [(1, 60, BOARD_IP)]
    setup = "http://127.0.0.1:%d/setup" % server.port
    for host, path in CHECKS:
        status, headers, _ = get(server, host, path)
        assert (status, headers["location"]) == (302, setup), (host, path)
    status, _, body = save(server, "home", "secret")
    assert status == 200 and b"http://127.0.0.1/" in body and b"http://kit.local/" in body
    assert json.loads((flash / "config.json").read_text())["wifi_ssid"] == "home"
    assert server.wait(10) == 0  # then the board restarts to serve on that network
    assert "WiFi: saved network home, restarting in 1" in server.output()


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_a_password_protected_board_in_setup_mode_still_opens_the_portal(serve, tmp_path):
    # A phone's connectivity check gets the redirect that opens the portal;
    # the setup page behind it asks for the password.
    config = {"board": "esp32", "hostname": "kit", "http_port": 0, "dns_port": free_udp_port()}
    config["http_password"] = "pw"
    server, _, _ = power_on(serve, tmp_path, config)
    setup = "http://127.0.0.1:%d/setup" % server.port
    for host, path in CHECKS[:4]:
        status, headers, _ = get(server, host, path)
        assert (status, headers.get("location")) == (302, setup), (host, path)
    local = "127.0.0.1:%d" % server.port
    status, headers, _ = server.request("GET", "/setup", headers={"Host": local})
    assert status == 401 and headers["www-authenticate"].startswith("Basic")
    credentials = "Basic " + base64.b64encode(b"admin:pw").decode()
    status, _, body = server.request(
        "GET", "/setup", headers={"Host": local, "Authorization": credentials}
    )
    assert status == 200 and b"<form" in body


def stand_ins_heap(flash, env):
    # On a board network and machine are built in and cost no heap; here
    # they are Python modules: their share is added, as tools/vboard.py does.
    code = "import gc, network, machine\ngc.collect()\nprint(gc.mem_alloc())"
    out = subprocess.run(
        runtime_command("micropython") + ["-c", code],
        cwd=flash,
        env=runtime_env("micropython", env=env),
        capture_output=True,
        check=True,
    )
    return int(out.stdout)


# What setup mode needs above the smallest board's figure on the 64-bit unix
# port, measured: 8K before the portal, 12K with it (10K gave 503s); 16K so
# that a few hundred bytes more fail here rather than on a board.
SETUP_MODE_MARGIN = 16 * 1024


@pytest.mark.parametrize("runtime", ["micropython"], indirect=True)
def test_setup_mode_with_the_portal_stays_in_its_heap_budget(serve, tmp_path):
    # As tools/deploy.py leaves a board (everything compiled but boot.py and
    # main.py), on the virtual board with no network configured.
    dns_port = free_udp_port()
    config = {"board": "esp32", "hostname": "small", "http_port": 0, "dns_port": dns_port}
    flash = board_flash(tmp_path, dict(config, setup_restart_s=1))
    (flash / "probe_cpython.py").unlink()
    compile_library(flash)
    for source in flash.glob("*.py"):
        if source.name not in ("boot.py", "main.py"):
            subprocess.run([shutil.which("mpy-cross"), str(source)], check=True)
            source.unlink()
    (flash / "power_on.py").write_text(POWER_ON)
    env = {"MICROPYPATH": ".frozen:lib:%s" % STUBS, "VBOARD_BOARD": BOARD.read_text()}
    heap = int(smallest_heap()[:-1]) * 1024 + stand_ins_heap(flash, env) + SETUP_MODE_MARGIN
    server = serve(flash / "power_on.py", cwd=flash, heapsize=heap, env=env)
    wait_output(server, r"DNS: answering every name")
    for _ in range(3):
        for host, path in CHECKS:
            assert parse_answer(ask(dns_port, query(host)))[4] == [(1, 60, BOARD_IP)]
            assert get(server, host, path)[0] == 302
        status, _, body = get(server, "small.local", "/setup")
        assert status == 200 and b"<form" in body
        assert get(server, "small.local", "/api/status")[0] == 200
    status, _, body = save(server, "home", "secret")
    assert status == 200 and b"http://small.local/" in body
    assert server.wait(10) == 0
    assert "MemoryError" not in server.output() and "Traceback" not in server.output()
