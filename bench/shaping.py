"""An emulated network between a camera and an edge server, on one machine.

Two network namespaces (client and server) joined by a veth pair:
- bandwidth: `tc qdisc tbf` on each end's egress, so both directions are
  limited (the machines have tbf but not netem);
- round-trip time: delay_relay.py in the client namespace, which adds half
  of it to each direction; clients connect to the relay on the client's
  loopback and the relay connects across the veth to the server.

Needs root (namespaces, tc).  Used by the offload benchmarks and, later, by
the adaptation evaluation, which changes bandwidth and delay mid-run.

    with Link(mbit=4, rtt_ms=50) as link:
        server = link.start_in_server(["yoloswitch-edge", "--address", link.server_ip, ...])
        url = link.relay_to(port)          # ws://127.0.0.1:RELAY/
        subprocess.run(link.in_client(["gst-launch-1.0", ...]))
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _run(*cmd):
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def tbf_args(mbit):
    """tbf for `mbit` Mbit/s: a burst of 1 ms of data, at least one
    full-size packet (so the shaper can send at all), and at most 200 ms of
    queue, like a modest access link: a steady bottleneck, as a radio or
    DSL link is, rather than a policer that lets 10 ms of data through at
    line rate after every pause (which every receive-side rate estimate
    reads as a faster link; until 2026-11-23 the burst was 10 ms, at least
    two packets).  tbf still delivers 96-99 % of the rate with it."""
    rate_bytes = mbit * 1e6 / 8
    burst = max(int(rate_bytes * 0.001), 2000)
    return ["tbf", "rate", f"{mbit}mbit", "burst", str(burst), "latency", "200ms"]


class Link:
    def __init__(self, mbit, rtt_ms, tag="ysb"):
        self.mbit = mbit
        self.rtt_ms = rtt_ms
        self.client_ns = f"{tag}-cli-{os.getpid()}"
        self.server_ns = f"{tag}-srv-{os.getpid()}"
        self.client_if = f"{tag}c{os.getpid() % 100000}"
        self.server_if = f"{tag}s{os.getpid() % 100000}"
        self.client_ip = "10.77.0.1"
        self.server_ip = "10.77.0.2"
        self.processes = []
        self.relays = []

    # -- set-up and tear-down ---------------------------------------------
    def __enter__(self):
        if os.geteuid() != 0:
            sys.exit("shaping.Link needs root (network namespaces and tc)")
        _run("ip", "netns", "add", self.client_ns)
        _run("ip", "netns", "add", self.server_ns)
        _run("ip", "link", "add", self.client_if, "type", "veth", "peer", "name", self.server_if)
        for ns, dev, ip in ((self.client_ns, self.client_if, self.client_ip),
                            (self.server_ns, self.server_if, self.server_ip)):
            _run("ip", "link", "set", dev, "netns", ns)
            _run("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", dev)
            _run("ip", "-n", ns, "link", "set", dev, "up")
            _run("ip", "-n", ns, "link", "set", "lo", "up")
        self.set_bandwidth(self.mbit)
        return self

    def __exit__(self, *exc):
        for p in reversed(self.processes):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for ns in (self.client_ns, self.server_ns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

    # -- conditions ----------------------------------------------------------
    def set_bandwidth(self, mbit):
        """Changes the rate in both directions, at once, mid-run too."""
        self.mbit = mbit
        for ns, dev in ((self.client_ns, self.client_if), (self.server_ns, self.server_if)):
            _run("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root",
                 *tbf_args(mbit))

    def set_rtt(self, rtt_ms):
        """Changes the added round trip of every relay, mid-run too."""
        self.rtt_ms = rtt_ms
        for p in self.relays:
            p.stdin.write(f"one-way-ms {rtt_ms / 2}\n")
            p.stdin.flush()

    def set_up(self, up):
        """Cuts the link (both ends down: packets are lost, connections
        stay open, as in a radio blackout) or restores it."""
        for ns, dev in ((self.client_ns, self.client_if), (self.server_ns, self.server_if)):
            _run("ip", "-n", ns, "link", "set", dev, "up" if up else "down")

    # -- processes -----------------------------------------------------------
    def in_client(self, cmd):
        return ["ip", "netns", "exec", self.client_ns] + list(cmd)

    def in_server(self, cmd):
        return ["ip", "netns", "exec", self.server_ns] + list(cmd)

    def start_in_server(self, cmd, **kwargs):
        p = subprocess.Popen(self.in_server(cmd), stdout=subprocess.PIPE, text=True, **kwargs)
        self.processes.append(p)
        return p

    def relay_to(self, server_port):
        """Starts a delay relay in the client namespace towards the server's
        port; returns the ws:// URL clients use."""
        p = subprocess.Popen(
            self.in_client(["/usr/bin/python3", os.path.join(HERE, "delay_relay.py"),
                            "--to", f"{self.server_ip}:{server_port}",
                            "--one-way-ms", str(self.rtt_ms / 2)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.processes.append(p)
        self.relays.append(p)
        line = p.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"delay relay did not start: {line!r}")
        return f"ws://127.0.0.1:{int(line.split()[-1])}/"
