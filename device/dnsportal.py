"""A tiny DNS responder for the setup access point: every name is the board.

A phone that joins the access point looks up its connectivity-check host
(connectivitycheck.gstatic.com, captive.apple.com, ...). Answering every A
query with the board's own address sends those checks to the board's web
server, which redirects them to /setup: the phone then opens the setup page
by itself. AAAA and every other type get NOERROR with no answer, so the
phone uses the IPv4 address: not NXDOMAIN, which says that the name does not
exist at all, and a resolver may then cache that for the A record too.

Loaded only in setup mode (wifisetup starts it). Its socket is the one that
boards/*/board.json's max_connections leaves spare for DNS or NTP, which
setup mode does not use otherwise (on a Pico W, UDP has a pool of its own).
"""

import asyncio
import socket

from httpserver.runtime import const

# const(): on MicroPython these cost no heap (no global holds them).
TTL = const(60)  # seconds: short, so names resolve properly soon after setup
_MAX_QUERY = const(512)  # the classic UDP limit: anything longer is not a query we answer
_BURST = const(8)  # queries answered per look: a flood cannot starve the web server


def reply(query, address):
    """The answer to one DNS query (bytes), or None to ignore it.

    address: the board's IPv4 address as 4 bytes. Pure, never raises on
    any bytes: malformed packets, responses and anything but one standard
    query in the question section give None.
    """
    n = len(query)
    if n < 17 or n > _MAX_QUERY:  # 12-byte header, root name, type, class
        return None
    if query[2] & 0xF8 or query[4] or query[5] != 1:  # QR or OPCODE set; QDCOUNT != 1
        return None
    end = _question_end(query, n)
    if end < 0:
        return None
    found = query[end - 4 : end] == b"\x00\x01\x00\x01"  # type A, class IN
    head = query[:2] + bytes((0x84 | (query[2] & 1), 0x80, 0, 1, 0, 1 if found else 0, 0, 0, 0, 0))
    if not found:
        return head + query[12:end]
    # The answer's name points (0xC00C) at the question's name.
    return (
        head
        + query[12:end]
        + b"\xc0\x0c\x00\x01\x00\x01"
        + TTL.to_bytes(4, "big")
        + b"\x00\x04"
        + address
    )


def _question_end(query, n):
    # Where the question (name, type, class) ends, or -1 when it is not a
    # plain run of labels: a compression pointer or a reserved label type
    # (length byte > 63) in a query is malformed, as is a name over 255 bytes.
    i = 12
    while i < n:
        length = query[i]
        if length == 0:
            end = i + 5
            return end if end <= n and i - 12 < 255 else -1
        if length > 63:
            return -1
        i += length + 1
    return -1


async def serve(ip, port=53, host="0.0.0.0"):
    """Answer DNS queries on UDP host:port until cancelled; an address or a
    port that cannot be used is told on the console and serve() returns
    (the board serves its pages without the portal's DNS).

    A non-blocking socket looked at every 30 ms rather than a datagram
    endpoint: MicroPython's asyncio has none, and polling with
    asyncio.sleep() runs unchanged on both runtimes without asking which
    one this is. A lookup waits at most 30 ms for it, which no phone notices.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        address = bytes(int(part) for part in ip.split("."))
        if len(address) != 4:
            raise ValueError("not an IPv4 address: %r" % ip)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(socket.getaddrinfo(host, port)[0][-1])
        sock.setblocking(False)
        print("DNS: answering every name with %s on port %d" % (ip, port))
        while True:
            _answer_waiting(sock, address)
            await asyncio.sleep(0.03)
    except (OSError, ValueError) as exc:
        print("DNS: cannot answer on port %s: %s" % (port, exc))
    finally:
        sock.close()


def _answer_waiting(sock, address):
    for _ in range(_BURST):
        try:
            # One byte more than allowed, so an oversized datagram shows as such.
            query, peer = sock.recvfrom(_MAX_QUERY + 1)
        except OSError:  # nothing waiting (EAGAIN), or an ICMP error reported late
            return
        except MemoryError:  # this query only: the next look tries again
            return
        answer = reply(query, address)
        if answer is not None:
            try:
                sock.sendto(answer, peer)
            except OSError:
                pass
