"""A WebSocket client on a bare socket, for the hostile-client tests
(test_edge_hostile.py): it sends what a polite library never would (no
reading, unmasked frames, any subprotocol header) and reads the server's
HTTP refusals, frames and close codes as they are on the wire."""
import base64
import os
import socket
import struct

import edge_client as ec

BUDGET = 30  # seconds any one read may wait


def mask_bytes(payload, key):
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big")
            ^ int.from_bytes(k, "big")).to_bytes(n, "big")


def ws_frame(payload, opcode=2, masked=True):
    """One final WebSocket frame, as a client sends it (masked) or as
    RFC 6455 forbids a client to (unmasked)."""
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        head = bytes([0x80 | opcode, bit | n])
    elif n < 65536:
        head = bytes([0x80 | opcode, bit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([0x80 | opcode, bit | 127]) + struct.pack(">Q", n)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + mask_bytes(payload, key)


class RawWs:
    """A WebSocket client on a bare socket, from a chosen loopback address.
    Every one is closed when its test ends (RawWs.close_all)."""
    opened = []

    def __init__(self, port, source="127.0.0.1", protocol=ec.SUBPROTOCOL,
                 rcvbuf=None):
        self.sock = socket.socket()
        RawWs.opened.append(self)
        if rcvbuf is not None:  # before connect, so the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(BUDGET)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if protocol is not None:
            request += f"Sec-WebSocket-Protocol: {protocol}\r\n"
        self.sock.sendall((request + "\r\n").encode())
        head = self._until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                self.headers[name.strip().lower()] = value.strip()
        self.body = b""
        if self.status != 101:
            self.body = self._exactly(int(self.headers.get("content-length", 0)))

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buffer += data

    def _until(self, marker):
        while marker not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(marker, 1)
        return head

    def _exactly(self, n):
        while len(self.buffer) < n:
            self._fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def send(self, data, masked=True, opcode=2):
        self.sock.sendall(ws_frame(data, opcode, masked))

    def recv_frame(self):
        """(opcode, payload) of the next server frame."""
        b0, b1 = self._exactly(2)
        n = b1 & 0x7f
        if n == 126:
            n = struct.unpack(">H", self._exactly(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._exactly(8))[0]
        return b0 & 0x0f, self._exactly(n)

    def recv_message(self):
        """The next yoloswitch.v2 message (skipping control frames); None
        once a close frame came (its code in self.close_code)."""
        while True:
            opcode, payload = self.recv_frame()
            if opcode == 8:
                self.close_code = (struct.unpack(">H", payload[:2])[0]
                                   if len(payload) >= 2 else None)
                self.close_text = payload[2:].decode(errors="replace")
                return None
            if opcode == 2:
                return ec.parse(payload)

    def until_close(self):
        """Reads everything up to the close frame: its code, and the
        messages before it."""
        seen = []
        self.close_code = None
        try:
            while True:
                m = self.recv_message()
                if m is None:
                    break
                seen.append(m)
        except (EOFError, ConnectionResetError):
            pass
        return self.close_code, seen

    def fileno(self):
        return self.sock.fileno()

    def close(self):
        self.sock.close()

    @classmethod
    def close_all(cls):
        for c in cls.opened:
            c.close()
        cls.opened = []
