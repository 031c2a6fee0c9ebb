"""HTTPS (and WSS) with app.run(..., ssl=context), on CPython and MicroPython.

A self-signed certificate for 127.0.0.1 is made at test time with the
`cryptography` package, in PEM (CPython) and DER (MicroPython, as a board
stores it); the client trusts exactly that certificate.
"""

import asyncio
import datetime
import http.client
import ipaddress
import json
import socket
import ssl
import time

import pytest
from conftest import REPO, RUNTIMES, as_on_a_board, start_server

APP = REPO / "host_tests" / "apps" / "tls_app.py"


def make_certificate(folder, kind="ec"):
    """Write cert.{pem,der} and key.{pem,der}; returns ({pem, der} paths, same for key)."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    if kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert = {"pem": folder / "cert.pem", "der": folder / "cert.der"}
    private = {"pem": folder / "key.pem", "der": folder / "key.der"}
    cert["pem"].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    cert["der"].write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    for encoding, path in (
        (serialization.Encoding.PEM, private["pem"]),
        (serialization.Encoding.DER, private["der"]),
    ):
        path.write_bytes(
            key.private_bytes(
                encoding,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
    return {k: str(v) for k, v in cert.items()}, {k: str(v) for k, v in private.items()}


def client_context(cafile):
    context = ssl.create_default_context(cafile=cafile)
    return context


def https_get(port, path, cafile, timeout=10):
    connection = http.client.HTTPSConnection(
        "127.0.0.1", port, context=client_context(cafile), timeout=timeout
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def start_tls(runtime, folder, kind="ec", heapsize=None, env=None):
    cert, key = make_certificate(folder / kind, kind)
    server = start_server(
        runtime, APP, folder, args=(cert["pem"], key["pem"]), heapsize=heapsize, env=env
    )
    server.runtime = runtime
    server.cafile = cert["pem"]
    return server


@pytest.fixture(scope="module", params=RUNTIMES)
def tls(request, tmp_path_factory):
    server = start_tls(request.param, tmp_path_factory.mktemp("tls"))
    yield server
    output = server.stop()
    assert "Traceback" not in output, output


def test_announces_https(tls):
    assert "Serving on https://127.0.0.1:%d/" % tls.port in tls.output()


def test_a_client_that_closes_with_close_notify_leaves_no_warning(tls):
    for _ in range(2):
        raw = socket.create_connection(("127.0.0.1", tls.port), timeout=10)
        client = client_context(tls.cafile).wrap_socket(raw, server_hostname="localhost")
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while not answer.endswith(b"}"):  # the whole JSON answer, then close_notify
            answer += client.recv(4096)
        assert answer.startswith(b"HTTP/1.1 200 ")
        try:
            client.unwrap()  # TLS close_notify: the client is done
        except ssl.SSLError:
            pass  # the server closed without its own close_notify (MicroPython's does)
        raw.close()
    time.sleep(0.3)
    assert "eof_received" not in tls.output() and "Traceback" not in tls.output()


def test_keep_alive_requests_over_one_tls_connection(tls):
    connection = http.client.HTTPSConnection(
        "127.0.0.1", tls.port, context=client_context(tls.cafile), timeout=10
    )
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read()) == {"scheme": "https", "client": "127.0.0.1"}
        connection.request("GET", "/big")  # several TLS records
        assert connection.getresponse().read() == b"0123456789" * 3000
        body = bytes(range(256)) * 20
        connection.request("POST", "/echo", body=body)
        assert connection.getresponse().read() == body
        connection.request("GET", "/stream")
        response = connection.getresponse()
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.read() == b"".join(b"part %d\n" % i for i in range(5))
    finally:
        connection.close()


def test_plain_http_on_the_tls_port_is_dropped_and_server_goes_on(tls):
    with socket.create_connection(("127.0.0.1", tls.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        try:
            data = sock.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert b"HTTP/1.1 200" not in data
    assert https_get(tls.port, "/", tls.cafile)[0] == 200


def test_abandoned_and_refused_handshakes_do_not_stop_the_server(tls):
    # A client that connects and says nothing, one that sends half a
    # ClientHello, and one that does not trust the certificate.
    idle = socket.create_connection(("127.0.0.1", tls.port), timeout=5)
    half = socket.create_connection(("127.0.0.1", tls.port), timeout=5)
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    with pytest.raises(ssl.SSLError):
        untrusting = ssl.create_default_context()
        with socket.create_connection(("127.0.0.1", tls.port), timeout=5) as sock:
            with untrusting.wrap_socket(sock, server_hostname="127.0.0.1"):
                pass
    try:
        assert https_get(tls.port, "/", tls.cafile)[0] == 200
    finally:
        idle.close()
        half.close()
    # The abandoned ones are dropped at the read deadline (read_timeout=2).
    time.sleep(0.3)
    assert https_get(tls.port, "/", tls.cafile)[0] == 200


def test_websocket_over_tls(tls):
    from websockets.asyncio.client import connect

    async def talk():
        async with connect(
            "wss://127.0.0.1:%d/ws" % tls.port, ssl=client_context(tls.cafile)
        ) as ws:
            first = await ws.recv()
            await ws.send("over tls")
            echoed = await ws.recv()
            await ws.send(b"\x00" * 3000)
            binary = await ws.recv()
            return first, echoed, binary

    assert asyncio.run(asyncio.wait_for(talk(), 10)) == ("https", "over tls", b"\x00" * 3000)


def test_rsa_certificate(runtime, tmp_path):
    server = start_tls(runtime, tmp_path, "rsa")
    try:
        status, body = https_get(server.port, "/", server.cafile)
        assert (status, json.loads(body)["scheme"]) == (200, "https")
    finally:
        server.stop()


def test_micropython_tls_with_the_heap_capped(tmp_path):
    # The app, the library as a board has it (.mpy, as deploy copies it) and
    # a TLS session in 128K of heap; mbedtls's own buffers are on the C heap
    # on the unix port. (From .py source, compiling websocket.py alone needs
    # a block the 128K heap may not have: boards never compile the library.)
    board = as_on_a_board("micropython", tmp_path / "board")
    server = start_tls("micropython", tmp_path, "ec", heapsize="128K", env=board["env"])
    try:
        for _ in range(3):
            assert https_get(server.port, "/", server.cafile)[0] == 200
        status, body = https_get(server.port, "/mem", server.cafile)
        assert status == 200
        context_cost = json.loads(body)["context"]
        # The SSLContext object and the DER bytes it keeps (EC P-256 key).
        assert 0 < context_cost < 6000, context_cost
    finally:
        output = server.stop()
    assert "MemoryError" not in output, output
