#!/usr/bin/python3
"""Unmasked client frames (RFC 6455 5.1) against the real yoloswitch-edge
on loopback: libwebsockets 4.1 accepts them, the server's recv()
interposer (offload/edge_wire_check.c) finds them in the socket's bytes and
the connection is closed with 1002 before the frame is acted on.  Frames
are written by hand on raw sockets: split across TCP writes, pipelined
behind the upgrade request or behind masked frames, with 16- and 64-bit
lengths, masked with a zero key (allowed); plain HTTP must not be
touched.  Every case runs again over wss:// (TlsUnmaskedTest), where the
check sees what SSL_read() decrypted (offload/edge_wire_tls.c) and
libwebsockets gets every byte: messages in the same TLS record as the
unmasked frame, before it too, are refused.  Budgets are generous (30 s):
what is asserted is what comes on the wire."""
import base64
import os
import socket
import ssl
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402
from raw_ws import RawWs, mask_bytes  # noqa: E402

BUDGET = 30
DOG = "/usr/share/darknet/data/dog.jpg"
DOG_SIZE = (768, 576)
CLOSED_UNMASKED = 'yoloswitch_edge_closed_total{reason="unmasked"}'
REASON = "unmasked frame: clients must mask (RFC 6455 5.1)"


def ws(payload, opcode=2, key=None, masked=True, fin=True):
    """One WebSocket frame as bytes; key None: a random one."""
    n = len(payload)
    bit = 0x80 if masked else 0
    first = (0x80 if fin else 0) | opcode
    if n < 126:
        head = bytes([first, bit | n])
    elif n < 65536:
        head = bytes([first, bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([first, bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4) if key is None else key
    return head + key + mask_bytes(payload, key)


def ping(capture_us):
    return ec.message(ec.PING, capture_us=capture_us)


def upgrade_request(port):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            f"Sec-WebSocket-Protocol: {ec.SUBPROTOCOL}\r\n\r\n").encode()


def raw(sock, port, after_request=b""):
    """A RawWs on an already connected `sock` (TLS or not) whose upgrade
    request is followed, in the same write, by `after_request`."""
    c = RawWs.__new__(RawWs)
    RawWs.opened.append(c)
    c.sock, c.buffer = sock, b""
    sock.settimeout(BUDGET)
    sock.sendall(upgrade_request(port) + after_request)
    c.status = int(c._until(b"\r\n\r\n").split()[1])
    return c


def pongs(messages):
    return [m["capture_us"] for m in messages if m["type"] == ec.PONG]


class UnmaskedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = ec.EdgeServer("--workers", "1")
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def tearDown(self):
        RawWs.close_all()
        self.assertIsNone(self.server.proc.poll(), "the server died")

    def metrics(self):
        return ec.metrics(self.port)

    def open_socket(self):
        sock = socket.create_connection(("127.0.0.1", self.port), BUDGET)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def connect(self, after_request=b""):
        c = raw(self.open_socket(), self.port, after_request)
        self.assertEqual(c.status, 101)
        return c

    def hello(self, c, key=None):
        c.sock.sendall(ws(ec.hello("mask-test"), key=key))
        self.assertEqual(c.recv_message()["type"], ec.HELLO)

    def assert_refused(self, c, before):
        """Closed with 1002 and the reason; returns the messages before."""
        code, seen = c.until_close()
        self.assertEqual((code, c.close_text), (1002, REASON), seen)
        self.assertTrue(ec.wait_for(lambda: self.metrics()[
            CLOSED_UNMASKED] >= before + 1, BUDGET))
        return seen

    def test_split_across_writes(self):
        """An unmasked PING in three TCP writes (first byte, mask bit and
        length, payload): no PONG, 1002."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        frame = ws(ping(1), masked=False)
        for part in (frame[:1], frame[1:2], frame[2:]):
            c.sock.sendall(part)
            time.sleep(0.3)  # separate segments, not a timing assertion
        self.assertEqual(pongs(self.assert_refused(c, before)), [])

    def test_zero_key_accepted(self):
        """RFC 6455 allows any masking key, zero included: HELLO and PING
        masked with 00000000 are answered, the connection stays open."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c, key=bytes(4))
        c.sock.sendall(ws(ping(2), key=bytes(4)))
        m = c.recv_message()
        self.assertEqual((m["type"], m["capture_us"]), (ec.PONG, 2), m)
        self.assertEqual(self.metrics()[CLOSED_UNMASKED], before)

    def test_masked_before_is_answered_after_is_not(self):
        """One write: masked PING, unmasked text frame, masked PING.  The
        first is answered, nothing after the unmasked frame is."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(ping(3)) + ws(b"hi", opcode=1, masked=False)
                       + ws(ping(4)))
        self.assertEqual(pongs(self.assert_refused(c, before)), [3])

    def test_right_behind_the_upgrade(self):
        """The upgrade request and an unmasked HELLO in one write: 101,
        then 1002 and no HELLO back."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect(ws(ec.hello("early"), masked=False))
        self.assertEqual(self.assert_refused(c, before), [])

    def test_unmasked_control_ping(self):
        """A WebSocket PING (opcode 9), which libwebsockets answers itself,
        unmasked: no PONG frame (opcode 10) comes, 1002 does."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(b"are you there", opcode=9, masked=False))
        opcodes = []
        while True:
            opcode, payload = c.recv_frame()
            opcodes.append(opcode)
            if opcode == 8:
                break
        self.assertEqual(opcodes, [8])
        self.assertEqual(struct.unpack(">H", payload[:2])[0], 1002)
        self.assertTrue(ec.wait_for(lambda: self.metrics()[
            CLOSED_UNMASKED] >= before + 1, BUDGET))

    def test_long_frames_then_unmasked(self):
        """A dog FRAME in two fragments (16-bit and 64-bit lengths, so the
        check must skip their payloads right), a masked PING, an unmasked
        PING: the FRAME is ACKed, the first PING answered, then 1002."""
        with open(DOG, "rb") as f:
            message = ec.frame(1, ec.MJPEG, *DOG_SIZE, f.read(),
                               deadline_ms=ec.GENEROUS_BUDGET_MS)
        self.assertGreater(len(message) - 1000, 65535)
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(message[:1000], fin=False)
                       + ws(message[1000:], opcode=0) + ws(ping(5)))
        seen = []
        while 5 not in pongs(seen):  # the FRAME went through in full
            seen.append(c.recv_message())
        c.sock.sendall(ws(ping(6), masked=False))
        seen += self.assert_refused(c, before)
        self.assertIn(ec.ACK, [m["type"] for m in seen])
        self.assertEqual(pongs(seen), [5])

    def test_plain_http_keep_alive_untouched(self):
        """Two HTTP requests on one connection: both answered (the check
        reads only WebSocket upgrades)."""
        sock = self.open_socket()
        c = RawWs.__new__(RawWs)
        RawWs.opened.append(c)
        c.sock, c.buffer = sock, b""
        for _ in range(2):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = c._until(b"\r\n\r\n").decode("latin-1")
            self.assertTrue(head.startswith("HTTP/1.1 200"), head)
            length = [line.split(":")[1] for line in head.split("\r\n")
                      if line.lower().startswith("content-length:")]
            self.assertEqual(c._exactly(int(length[0])), b"ok\n")


class TlsUnmaskedTest(UnmaskedTest):
    """The same over wss://, a self-signed certificate the client trusts;
    each sendall() is one TLS record (Python writes one per call)."""
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, key = ec.self_signed_certificate(cls.tmp.name)
        cls.server = ec.EdgeServer("--workers", "1", "--tls-cert", cls.cert,
                                   "--tls-key", key)
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def metrics(self):
        """/metrics over https (ec.metrics speaks http only)."""
        import urllib.request
        tls = ssl.create_default_context(cafile=self.cert)
        with urllib.request.urlopen(f"https://127.0.0.1:{self.port}/metrics",
                                    timeout=BUDGET, context=tls) as r:
            body = r.read().decode()
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
                for line in body.splitlines()
                if line and not line.startswith("#")}

    def open_socket(self):
        tls = ssl.create_default_context(cafile=self.cert)
        sock = tls.wrap_socket(socket.create_connection(
            ("127.0.0.1", self.port), BUDGET), server_hostname="127.0.0.1")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def test_masked_before_is_answered_after_is_not(self):
        """One record: masked PING, unmasked text frame, masked PING.
        libwebsockets gets all three at once, the check flags the
        connection first: no PING is answered (docs/PROTOCOL.md)."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(ping(3)) + ws(b"hi", opcode=1, masked=False)
                       + ws(ping(4)))
        self.assertEqual(pongs(self.assert_refused(c, before)), [])

    def test_masked_records_before_are_answered(self):
        """Masked PINGs in records of their own are answered, then an
        unmasked one is not."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        for n in (10, 11):
            c.sock.sendall(ws(ping(n)))
            self.assertEqual(pongs([c.recv_message()]), [n])
        c.sock.sendall(ws(ping(12), masked=False))
        self.assertEqual(pongs(self.assert_refused(c, before)), [])

    def test_unmasked_control_ping(self):
        """A WebSocket PING (opcode 9) unmasked: libwebsockets answers it
        itself before the server's 1002 (a PONG echoes the client's own
        at most 125 bytes and acts on nothing: docs/PROTOCOL.md), then
        the close comes."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(b"are you there", opcode=9, masked=False))
        opcodes = []
        while True:
            opcode, payload = c.recv_frame()
            opcodes.append(opcode)
            if opcode == 8:
                break
        self.assertLessEqual(set(opcodes[:-1]), {10}, opcodes)
        self.assertEqual(struct.unpack(">H", payload[:2])[0], 1002)
        self.assertTrue(ec.wait_for(lambda: self.metrics()[
            CLOSED_UNMASKED] >= before + 1, BUDGET))

    def test_unmasked_close(self):
        """An unmasked WebSocket close: libwebsockets answers it itself
        with the client's own close (the connection ends either way) and
        the refusal is counted (docs/PROTOCOL.md)."""
        before = self.metrics()[CLOSED_UNMASKED]
        c = self.connect()
        self.hello(c)
        c.sock.sendall(ws(struct.pack(">H", 1000) + b"bye", opcode=8,
                          masked=False))
        opcode, payload = c.recv_frame()
        self.assertEqual((opcode, payload), (8, struct.pack(">H", 1000)
                                             + b"bye"))
        self.assertTrue(ec.wait_for(lambda: self.metrics()[
            CLOSED_UNMASKED] >= before + 1, BUDGET))

    def test_masked_client_served(self):
        """A real WebSocket client (python3-websockets, which masks):
        HELLO, PINGs and a dog FRAME answered, nothing refused."""
        import asyncio
        import websockets

        before = self.metrics()[CLOSED_UNMASKED]
        with open(DOG, "rb") as f:
            message = ec.frame(1, ec.MJPEG, *DOG_SIZE, f.read(),
                               deadline_ms=ec.GENEROUS_BUDGET_MS)

        async def run():
            tls = ssl.create_default_context(cafile=self.cert)
            async with websockets.connect(
                    f"wss://127.0.0.1:{self.port}/", ssl=tls,
                    subprotocols=[ec.SUBPROTOCOL], max_size=None,
                    open_timeout=BUDGET) as w:
                await w.send(ec.hello("masked-wss"))
                types = [ec.parse(await asyncio.wait_for(w.recv(), BUDGET))
                         ["type"]]
                await w.send(message)
                await w.send(ping(20))
                while ec.PONG not in types:
                    types.append(ec.parse(await asyncio.wait_for(
                        w.recv(), BUDGET))["type"])
                return types

        types = asyncio.run(run())
        self.assertEqual(types[0], ec.HELLO)
        self.assertIn(ec.ACK, types)
        self.assertEqual(self.metrics()[CLOSED_UNMASKED], before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
