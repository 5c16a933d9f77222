#!/usr/bin/python3
"""Hostile clients against the real yoloswitch-edge on loopback (issue 13):
each attack that once took the server down or locked cameras out, rerun
with raw sockets (to send what a polite library never would: no reading,
no HELLO, unmasked frames) and Python websockets, checking what the server
answers, that its memory stays bounded, and its Prometheus counters.

Clients come from several loopback addresses (127.0.0.x, Linux routes the
whole 127/8 to lo), so the per-address cap and the token throttle are told
apart from the server-wide caps.  Budgets are generous (30 s): what is
asserted is what happens, not how fast."""
import asyncio
import os
import select
import struct
import sys
import time
import unittest
import urllib.error
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import edge_client as ec  # noqa: E402
from raw_ws import RawWs, ws_frame  # noqa: E402

DOG = "/usr/share/darknet/data/dog.jpg"
DOG_SIZE = (768, 576)
TOKEN = "s3cret-token"
BUDGET = 30  # seconds for anything to happen
# What four clients that never read may add to the resident memory of a
# warmed-up server, in MB (the issue measured one client taking it from
# 131 MB to 2.46 GB in 20 s).  A growth, not a total: under meson's
# MALLOC_PERTURB_ every allocation is touched and the idle server alone is
# near 300 MB, against 125 MB without it.
MEMORY_GROWTH_MB = 100


def dog_jpeg():
    with open(DOG, "rb") as f:
        return f.read()


def vm_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def connect(url, source="127.0.0.1"):
    return await websockets.connect(url, subprotocols=[ec.SUBPROTOCOL],
                                    max_size=None, ping_interval=None,
                                    open_timeout=BUDGET,
                                    local_addr=(source, 0))


async def recv(ws):
    return ec.parse(await asyncio.wait_for(ws.recv(), BUDGET))


async def one_dog(url, source, token=TOKEN, retry_for=BUDGET):
    """A well-behaved client: retries while the upgrade is refused with 503,
    then HELLO and one dog frame; returns (server HELLO, answer)."""
    end = time.monotonic() + retry_for
    while True:
        try:
            ws = await connect(url, source)
            break
        except websockets.InvalidStatusCode as e:
            if e.status_code != 503 or time.monotonic() > end:
                raise
            await asyncio.sleep(0.2)
    await ws.send(ec.hello("camera", token=token))
    hello = await recv(ws)
    await ws.send(ec.frame(1, ec.MJPEG, *DOG_SIZE, dog_jpeg(),
                           deadline_ms=ec.GENEROUS_BUDGET_MS))
    ack = await recv(ws)
    answer = await recv(ws)
    await ws.close()
    assert ack["type"] == ec.ACK, ack
    return hello, answer


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 300))


class HostileClientsTest(unittest.TestCase):
    """One server with the default limits, except a small max-clients,
    max-unauthenticated and per-address cap (so filling them is cheap), and a longer HELLO timeout
    and token backoff (so a loaded machine cannot outwait them while a test
    opens its connections)."""

    @classmethod
    def setUpClass(cls):
        cls.server = ec.EdgeServer("--token", TOKEN, "--workers", "1",
                                   "--max-clients", "8",
                                   "--max-unauthenticated", "16",
                                   "--max-per-address", "4",
                                   "--hello-timeout-ms", "10000",
                                   "--auth-backoff-ms", "5000",
                                   "--auth-backoff-max-ms", "30000")
        cls.url = cls.server.url
        cls.port = cls.server.port

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def setUp(self):
        # The connections of the test before have gone (the server sees
        # their sockets close a moment after the test closed them).
        self.assertTrue(ec.wait_for(
            lambda: ec.metrics(self.port)["yoloswitch_edge_clients"] == 0, BUDGET),
            "connections of an earlier test still open")

    def tearDown(self):
        RawWs.close_all()
        self.assertIsNone(self.server.proc.poll(), "the server died")

    def wait_metric(self, name, at_least):
        values = {}

        def reached():
            values.update(ec.metrics(self.port))
            return values.get(name, 0) >= at_least
        self.assertTrue(ec.wait_for(reached, BUDGET),
                        f"{name} = {values.get(name)}, wanted >= {at_least}")
        return values

    def test_client_that_never_reads(self):
        """Four clients send PINGs and dog FRAMEs as fast as they can and
        never read: the server stops reading them once their answers fill
        --send-queue-bytes, grows by less than MEMORY_GROWTH_MB, and closes each
        after --send-stall-ms with close code 4003."""
        _, answer = run(one_dog(self.url, "127.0.0.19"))  # warm: decoder, model
        self.assertEqual(answer["type"], ec.RESULT)
        self.assertTrue(ec.wait_for(
            lambda: ec.metrics(self.port)["yoloswitch_edge_clients"] == 0, BUDGET))
        base_mb = vm_kb(self.server.proc.pid, "VmRSS") / 1024
        before = ec.metrics(self.port)
        clients = []
        for i in range(4):
            c = RawWs(self.port, f"127.0.0.{20 + i}", rcvbuf=4096)
            self.assertEqual(c.status, 101)
            c.send(ec.hello(f"flooder-{i}", token=TOKEN))
            c.sock.setblocking(False)
            clients.append(c)
        pings = b"".join(ws_frame(ec.message(ec.PING, capture_us=n))
                         for n in range(2000))
        dog = ws_frame(ec.frame(1, ec.MJPEG, *DOG_SIZE, dog_jpeg(),
                                deadline_ms=ec.GENEROUS_BUDGET_MS))
        chunk = pings + dog
        outgoing = {c: chunk for c in clients}
        sent = {c: 0 for c in clients}
        peak_rss = 0
        stalled = 'yoloswitch_edge_closed_total{reason="send-stalled"}'
        # Send until the server has closed all four: it stops reading each
        # once the kernel's buffers and then its queue are full (some MB of
        # PINGs, which a loaded machine takes a while to send), and closes
        # it --send-stall-ms later.
        end = time.monotonic() + 3 * BUDGET
        while time.monotonic() < end:
            _, writable, _ = select.select([], list(outgoing), [], 0.2)
            for c in writable:
                try:
                    n = c.sock.send(outgoing[c])
                except (BlockingIOError, InterruptedError):
                    continue
                except (BrokenPipeError, ConnectionResetError):
                    del outgoing[c]
                    continue
                sent[c] += n
                outgoing[c] = outgoing[c][n:] or chunk
            peak_rss = max(peak_rss, vm_kb(self.server.proc.pid, "VmRSS"))
            after = ec.metrics(self.port)
            if after[stalled] >= before[stalled] + 4:
                break
        self.assertEqual(
            after[stalled], before[stalled] + 4,
            f"sent {sorted(sent.values())} bytes, reading paused "
            f"{after['yoloswitch_edge_reading_paused_total']} times\n"
            + self.server.stderr()[-2000:])
        hwm_mb = vm_kb(self.server.proc.pid, "VmHWM") / 1024
        # Now read: what was queued, then the close frame.
        codes = []
        for c in clients:
            c.sock.setblocking(True)
            c.sock.settimeout(BUDGET)
            code, _ = c.until_close()
            codes.append(code)
            c.close()
        print(f"\n  never-reading clients: sent {sorted(sent.values())} bytes, "
              f"server RSS {base_mb:.0f} MB before, VmHWM {hwm_mb:.0f} MB, "
              f"close codes {codes}", file=sys.stderr)
        self.assertLess(hwm_mb - base_mb, MEMORY_GROWTH_MB,
                        f"RSS {base_mb:.0f} MB -> peak {hwm_mb:.0f} MB "
                        f"(sampled {peak_rss / 1024:.0f})")
        self.assertTrue(all(s > 1 << 20 for s in sent.values()),
                        f"the clients hardly sent anything: {sent}")
        self.assertGreaterEqual(after["yoloswitch_edge_reading_paused_total"],
                                before["yoloswitch_edge_reading_paused_total"] + 4)
        self.assertIn("yoloswitch_edge_pings_ignored_total", after)
        # lws sends the close frame once the socket has room, which it gets
        # as we read; a kernel that gave up first leaves a bare TCP close.
        self.assertTrue(all(code in (4003, None) for code in codes), codes)
        self.assertIn(4003, codes)
        self.assertIn("--send-stall-ms", self.server.stderr())

    def test_silent_connections_then_a_camera(self):
        """64 connections that never send HELLO, from 64 addresses: 16
        (--max-unauthenticated) are let in, more only in place of one that
        has had a second for its HELLO; the rest get HTTP 503 naming the
        reason; a camera is still served; every silent one is closed with
        code 4001 (its place taken, or --hello-timeout-ms, 10 s here)."""
        before = ec.metrics(self.port)
        silent, refused = [], []
        for i in range(64):
            c = RawWs(self.port, f"127.0.1.{10 + i}")
            (silent if c.status == 101 else refused).append(c)
        self.assertGreaterEqual(len(silent), 16)
        self.assertEqual({c.status for c in refused}, {503})
        body = refused[0].body.decode()
        self.assertIn("waiting for their HELLO", body)
        self.assertIn("--max-unauthenticated", body)
        self.assertEqual(refused[0].headers.get("retry-after"), "5")
        for c in refused:
            c.close()
        mid = ec.metrics(self.port)
        self.assertLessEqual(mid["yoloswitch_edge_clients_unauthenticated"], 16)
        self.assertEqual(mid['yoloswitch_edge_refused_total{reason="unauthenticated"}'],
                         before['yoloswitch_edge_refused_total{reason="unauthenticated"}']
                         + len(refused))

        start = time.monotonic()
        hello, answer = run(one_dog(self.url, "127.0.0.2"))
        print(f"\n  camera after 64 silent connections: HELLO and RESULT in "
              f"{time.monotonic() - start:.1f} s", file=sys.stderr)
        self.assertEqual(hello["type"], ec.HELLO)
        self.assertEqual(answer["type"], ec.RESULT, answer)

        results = [c.until_close() for c in silent]
        self.assertEqual({code for code, _ in results}, {4001})
        self.assertTrue(all(seen == [] for _, seen in results), results)
        closed = ['yoloswitch_edge_closed_total{reason="hello-timeout"}',
                  'yoloswitch_edge_closed_total{reason="evicted"}']

        def all_counted():
            now = ec.metrics(self.port)
            return sum(now[k] - before[k] for k in closed) == len(silent)
        self.assertTrue(ec.wait_for(all_counted, BUDGET))
        self.assertTrue(ec.wait_for(
            lambda: ec.metrics(self.port)["yoloswitch_edge_clients_unauthenticated"] == 0,
            BUDGET))

    def test_oldest_silent_connection_gives_way(self):
        """With --max-unauthenticated connections waiting, one that has
        waited a second without HELLO is closed (4001) for a new one."""
        before = ec.metrics(self.port)
        waiting = [RawWs(self.port, f"127.0.2.{10 + i}") for i in range(16)]
        self.assertEqual({c.status for c in waiting}, {101})
        time.sleep(1.5)
        late = RawWs(self.port, "127.0.2.101")
        self.assertEqual(late.status, 101)
        code, _ = waiting[0].until_close()
        self.assertEqual(code, 4001)
        self.assertIn("--max-unauthenticated", waiting[0].close_text)
        # The newcomer is a connection like any other: it may say HELLO.
        late.send(ec.hello("late", token=TOKEN))
        self.assertEqual(late.recv_message()["type"], ec.HELLO)
        after = ec.metrics(self.port)
        key = 'yoloswitch_edge_closed_total{reason="evicted"}'
        self.assertEqual(after[key], before[key] + 1)

    def test_per_address_and_max_clients(self):
        """Four connections from one address fill --max-per-address; a
        fifth gets 503 naming the address; eight clients with HELLO fill
        --max-clients, and the next upgrade gets 503 "server full"."""
        before = ec.metrics(self.port)
        held = []
        for _ in range(4):
            c = RawWs(self.port, "127.0.0.3")
            self.assertEqual(c.status, 101)
            c.send(ec.hello("holder", token=TOKEN))
            self.assertEqual(c.recv_message()["type"], ec.HELLO)
            held.append(c)
        fifth = RawWs(self.port, "127.0.0.3")
        self.assertEqual(fifth.status, 503)
        self.assertIn("127.0.0.3", fifth.body.decode())
        self.assertIn("--max-per-address", fifth.body.decode())
        fifth.close()
        for i in range(4):
            c = RawWs(self.port, "127.0.0.4")
            self.assertEqual(c.status, 101)
            c.send(ec.hello("holder", token=TOKEN))
            self.assertEqual(c.recv_message()["type"], ec.HELLO)
            held.append(c)
        ninth = RawWs(self.port, "127.0.0.7")
        self.assertEqual(ninth.status, 503)
        self.assertIn("server full", ninth.body.decode())
        self.assertIn("--max-clients", ninth.body.decode())
        ninth.close()
        after = ec.metrics(self.port)
        for reason in ("per-address", "full"):
            key = f'yoloswitch_edge_refused_total{{reason="{reason}"}}'
            self.assertEqual(after[key], before[key] + 1, reason)
        for c in held:
            c.close()
        # Slots come back as the clients go.
        self.assertTrue(ec.wait_for(
            lambda: ec.metrics(self.port)["yoloswitch_edge_clients"] == 0, BUDGET))
        _, answer = run(one_dog(self.url, "127.0.0.3"))
        self.assertEqual(answer["type"], ec.RESULT)

    def test_subprotocol_refused_with_400(self):
        before = ec.metrics(self.port)
        missing = RawWs(self.port, protocol=None)
        other = RawWs(self.port, protocol="chat, superchat")
        self.assertEqual((missing.status, other.status), (400, 400))
        self.assertIn("no subprotocol", missing.body.decode())
        self.assertIn("yoloswitch.v2", missing.body.decode())
        self.assertIn("not spoken here", other.body.decode())
        missing.close()
        other.close()
        after = ec.metrics(self.port)
        key = 'yoloswitch_edge_refused_total{reason="subprotocol"}'
        self.assertEqual(after[key], before[key] + 2)
        # Our protocol anywhere in the list is enough.
        listed = RawWs(self.port, protocol="chat, yoloswitch.v2")
        self.assertEqual(listed.status, 101)
        listed.close()

    def test_token_guesses_throttled(self):
        """Twenty wrong tokens from one address: the first two are checked,
        then its HELLOs are refused unchecked (even the right token) while
        another address is served; the counters say so."""
        before = ec.metrics(self.port)
        checked = throttled = 0
        for i in range(20):
            c = RawWs(self.port, "127.0.0.5")
            c.send(ec.hello("guesser", token=f"guess-{i}"))
            m = c.recv_message()
            code, _ = c.until_close()
            c.close()
            self.assertEqual((m["type"], m["code"]), (ec.ERROR, "unauthorized"))
            self.assertEqual(code, 1008)
            if m["text"].startswith("wrong token"):
                checked += 1
            else:
                self.assertIn("too many wrong tokens from 127.0.0.5", m["text"])
                throttled += 1
        c = RawWs(self.port, "127.0.0.5")
        c.send(ec.hello("guesser", token=TOKEN))
        m = c.recv_message()
        c.close()
        self.assertIn("too many wrong tokens", m.get("text", ""), m)
        throttled += 1
        _, answer = run(one_dog(self.url, "127.0.0.6"))
        self.assertEqual(answer["type"], ec.RESULT)
        after = ec.metrics(self.port)
        # Two free attempts, then one per 5 s, 10 s, 20 s of backoff.
        self.assertLessEqual(checked, 5)
        self.assertGreaterEqual(throttled, 16)
        self.assertEqual(after["yoloswitch_edge_auth_failures_total"],
                         before["yoloswitch_edge_auth_failures_total"] + checked)
        self.assertEqual(after["yoloswitch_edge_auth_throttled_total"],
                         before["yoloswitch_edge_auth_throttled_total"] + throttled)

    def test_client_error_closes(self):
        """A client's ERROR closes its connection (code 1000) at once."""
        before = ec.metrics(self.port)

        async def go():
            ws = await connect(self.url, "127.0.0.8")
            await ws.send(ec.hello("quitter", token=TOKEN))
            await recv(ws)
            await ws.send(ec.message(ec.ERROR, struct.pack("<H", 8)
                                     + ec.string("camera going away")))
            try:
                extra = await asyncio.wait_for(ws.recv(), BUDGET)
                raise AssertionError(f"still open: {extra[:40]!r}")
            except websockets.ConnectionClosed as e:
                return e.rcvd.code if e.rcvd is not None else None

        self.assertEqual(run(go()), 1000)
        after = self.wait_metric(
            'yoloswitch_edge_closed_total{reason="client-error"}',
            before['yoloswitch_edge_closed_total{reason="client-error"}'] + 1)
        self.assertIn("camera going away", self.server.stderr())
        del after
        self.assertTrue(ec.wait_for(
            lambda: ec.metrics(self.port)["yoloswitch_edge_clients"] == 0, BUDGET),
            "the slot was not freed")

    def test_ping_before_hello_refused(self):
        """PING before HELLO: ERROR sequence and a close, no PONG."""
        before = ec.metrics(self.port)
        c = RawWs(self.port, "127.0.0.9")
        c.send(ec.message(ec.PING, capture_us=5))
        m = c.recv_message()
        code, rest = c.until_close()
        c.close()
        self.assertEqual((m["type"], m["code"]), (ec.ERROR, "sequence"), m)
        self.assertIn("PING before HELLO", m["text"])
        self.assertEqual((code, rest), (1008, []))
        after = ec.metrics(self.port)
        key = 'yoloswitch_edge_errors_total{code="sequence"}'
        self.assertEqual(after[key], before[key] + 1)

    def test_unmasked_frame_refused(self):
        """RFC 6455 5.1: a server closes on an unmasked client frame (1002)
        and does not act on it.  libwebsockets 4.1 parses it like one masked
        with a zero key; the server's recv() interposer sees the mask bit
        (offload/edge_wire_check.c, more cases in test_edge_unmasked.py)."""
        key = 'yoloswitch_edge_closed_total{reason="unmasked"}'
        before = ec.metrics(self.port)[key]
        c = RawWs(self.port, "127.0.0.10")
        c.send(ec.hello("unmasked", token=TOKEN))
        self.assertEqual(c.recv_message()["type"], ec.HELLO)
        c.send(ec.message(ec.PING, capture_us=6), masked=False)
        m = c.recv_message()
        c.close()
        self.assertIsNone(m, f"an unmasked PING was answered: {m}")
        self.assertEqual(c.close_code, 1002)
        self.assertIn("RFC 6455", c.close_text)
        self.wait_metric(key, before + 1)


class OwnServerTest(unittest.TestCase):
    """Limits that need a server of their own."""

    def test_draining_refuses_with_503(self):
        """After SIGTERM, while a client that does not read keeps the server
        draining, an upgrade gets 503 "draining" and /healthz says so."""
        with ec.EdgeServer("--send-queue-bytes", "65536") as server:
            c = RawWs(server.port, rcvbuf=4096)
            try:
                c.send(ec.hello("stuck"))
                self.assertEqual(c.recv_message()["type"], ec.HELLO)
                c.sock.setblocking(False)
                pings = b"".join(ws_frame(ec.message(ec.PING, capture_us=n))
                                 for n in range(5000))
                pending = [pings]
                last_sent = [time.monotonic()]

                def flood():
                    # Whole frames only: a partial send continues next time.
                    if select.select([], [c], [], 0)[1]:
                        try:
                            n = c.sock.send(pending[0])
                            pending[0] = pending[0][n:] or pings
                            last_sent[0] = time.monotonic()
                        except BlockingIOError:
                            pass
                    # The server has stopped reading for good once nothing
                    # could be sent for 2 s: every buffer on the way is full.
                    return time.monotonic() - last_sent[0] > 2
                self.assertTrue(ec.wait_for(flood, BUDGET))
                self.assertGreaterEqual(ec.metrics(server.port)[
                    "yoloswitch_edge_reading_paused_total"], 1)
                server.proc.send_signal(ec.signal.SIGTERM)
                self.assertTrue(ec.wait_for(
                    lambda: "stopping" in server.stderr(), BUDGET))
                late = RawWs(server.port, "127.0.0.2")
                late.close()
                self.assertEqual(late.status, 503)
                self.assertIn("draining", late.body.decode())
                try:
                    urllib.request.urlopen(
                        f"http://127.0.0.1:{server.port}/healthz", timeout=BUDGET)
                    raise AssertionError("/healthz said 200 while draining")
                except urllib.error.HTTPError as e:
                    self.assertEqual((e.code, e.read()), (503, b"draining\n"))
            finally:
                c.close()
            self.assertEqual(server.terminate(), 0)

    def test_idle_after_hello(self):
        """--idle-timeout-ms: a client that PINGs stays; one that goes
        quiet after HELLO is closed with code 4002."""
        with ec.EdgeServer("--idle-timeout-ms", "3000") as server:
            c = RawWs(server.port)
            c.send(ec.hello("pinger"))
            self.assertEqual(c.recv_message()["type"], ec.HELLO)
            for n in range(15):  # 4.5 s, longer than the timeout
                c.send(ec.message(ec.PING, capture_us=n))
                self.assertEqual(c.recv_message()["type"], ec.PONG)
                time.sleep(0.3)
            code, _ = c.until_close()
            c.close()
            self.assertEqual(code, 4002)
            values = ec.metrics(server.port)
            self.assertEqual(values['yoloswitch_edge_closed_total{reason="idle-timeout"}'], 1)
            self.assertIn("--idle-timeout-ms", server.stderr())

    def test_limits_checked_at_start(self):
        for args, words in ((["--send-queue-bytes", "10"], "send-queue-bytes"),
                            (["--auth-backoff-ms", "5000",
                              "--auth-backoff-max-ms", "10"], "auth-backoff-max-ms")):
            proc = ec.subprocess.run([ec.EDGE, "--port", "0", *args],
                                     capture_output=True, text=True, timeout=60)
            self.assertEqual(proc.returncode, 2)
            self.assertIn(words, proc.stderr)
        proc = ec.subprocess.run([ec.EDGE, "--help"], capture_output=True,
                                 text=True, timeout=60)
        for option in ("--send-queue-bytes", "--socket-send-bytes",
                       "--send-stall-ms",
                       "--hello-timeout-ms", "--idle-timeout-ms",
                       "--max-unauthenticated", "--max-per-address",
                       "--auth-backoff-ms", "--auth-backoff-max-ms",
                       "--auth-table-size"):
            self.assertIn(option, proc.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
