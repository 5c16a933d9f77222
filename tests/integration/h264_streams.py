"""Real H.264 bitstreams for the edge tests and benchmarks, made with the
ffmpeg CLI (libx264): the packets in decoding order with their display
position, as a client would send them (test_edge_frames.py,
bench/edge_attack.py)."""
import os
import subprocess


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    *args], check=True, capture_output=True, timeout=600)


def h264_stream(directory, name, source, x264_params, extra=()):
    """Encodes with libx264 to raw Annex B and a framecrc log of the same
    packets (decode order: dts, pts, size); returns [(pts, bytes, key)],
    pts counted 0, 1, 2... in display order.  Made once per `name` in
    `directory`, then read from there."""
    raw = os.path.join(directory, name + ".h264")
    crc = os.path.join(directory, name + ".crc")
    if not os.path.exists(crc):
        ffmpeg(*source, "-c:v", "libx264", "-threads", "1",
               "-x264-params", x264_params, *extra, "-f", "tee",
               f"[f=h264]{raw}|[f=framecrc]{crc}")
    with open(raw, "rb") as f:
        data = f.read()
    with open(crc) as f:
        lines = [l for l in f if l.strip() and not l.startswith("#")]
    packets = []
    for line in lines:
        fields = [x.strip() for x in line.split(",")]
        # stream, dts, pts, duration, size, crc[, F=flags unless only key]
        key = "F=" not in line or "F=0x1," in line
        packets.append([int(fields[2]), int(fields[4]), key])
    # pts in display order, whatever the time base: 0, 1, 2...
    order = sorted(p[0] for p in packets)
    for p in packets:
        p[0] = order.index(p[0])
    # Anything the muxer wrote before the first packet (headers) goes
    # with it.
    head = len(data) - sum(p[1] for p in packets)
    assert head >= 0, (len(data), packets)
    out, at = [], 0
    for i, (pts, size, key) in enumerate(packets):
        n = size + (head if i == 0 else 0)
        out.append((pts, data[at:at + n], key))
        at += n
    assert at == len(data)
    return out
