#!/usr/bin/env python3
"""Writes tests/fuzz/nn/corpus/: small networks of every layer type the cfg
checker accepts, each with a control block and a weights part in the
framing fuzz_nn.c describes (cfg, NUL, 8 control bytes, weights part).
Run from anywhere; it rewrites the corpus directory."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAN = struct.pack("<I", 0x7FC00000)
INF = struct.pack("<f", float("inf"))
NINF = struct.pack("<f", float("-inf"))

TINY_YOLO = """[net]
width=32
height=32
channels=3
[convolutional]
batch_normalize=1
filters=8
size=3
stride=1
pad=1
activation=leaky
[maxpool]
size=2
stride=2
[convolutional]
filters=16
size=3
stride=2
pad=1
activation=leaky
[convolutional]
size=1
filters=14
activation=linear
[yolo]
mask=2,3
anchors=10,14, 23,27, 37,58, 81,82
classes=2
num=4
[route]
layers=-3
[upsample]
stride=2
[route]
layers=-1,1
[convolutional]
size=1
filters=14
activation=linear
[yolo]
mask=0,1
anchors=10,14, 23,27, 37,58, 81,82
classes=2
num=4
"""

REGION = """[net]
width=32
height=32
channels=3
[convolutional]
filters=8
size=3
stride=1
pad=1
batch_normalize=1
activation=leaky
[convolutional]
filters=8
size=3
stride=2
pad=1
groups=2
activation=elu
[convolutional]
filters=8
size=3
stride=1
pad=1
groups=8
batch_normalize=1
activation=relu
[shortcut]
from=-2
alpha=0.5
beta=2
activation=tanh
[dropout]
probability=.5
[upsample]
stride=-2
scale=0.25
[reorg]
stride=2
[route]
layers=-1,-1
[reorg]
stride=2
reverse=1
[maxpool]
size=3
stride=2
[convolutional]
filters=21
size=1
activation=linear
[region]
anchors=0.5,0.8, 1.2,1.5, 2,2.5
classes=2
num=3
coords=4
softmax=1
"""

CONNECTED = """[net]
width=32
height=32
channels=3
[convolutional]
filters=4
size=3
stride=2
pad=1
[convolutional]
filters=4
size=3
pad=1
activation=stair
[maxpool]
size=2
stride=2
[convolutional]
filters=16
size=1
activation=linear
[yolo]
mask=0,1
anchors=10,14, 23,27, 37,58
classes=3
num=3
[route]
layers=2
[avgpool]
[connected]
output=8
batch_normalize=1
activation=linear
[yolo]
mask=2
anchors=10,14, 23,27, 37,58
classes=3
num=3
"""

BATCHNORM = """[net]
width=32
height=32
channels=3
[convolutional]
filters=6
size=3
stride=2
pad=1
activation=leaky
[batchnorm]
[region]
classes=1
num=1
"""

BACKGROUND = """[net]
width=32
height=32
channels=3
[convolutional]
filters=12
size=3
stride=2
pad=1
activation=leaky
[region]
anchors=1,1, 2,3
classes=1
num=2
coords=4
softmax=1
background=1
"""

HUGE_ANCHORS = """[net]
width=32
height=32
channels=3
[convolutional]
filters=7
size=1
stride=4
activation=linear
[yolo]
mask=0
anchors=1e30,0
classes=2
num=1
"""


def control(mode=0, thresh=51, cut=0, delta=0, sw=79, sh=59):
    return bytes([mode, thresh, cut, delta & 0xFF, sw, sh, 0, 0])


def header(major=0, minor=2, revision=0):
    return struct.pack("<iii", major, minor, revision)


SEEDS = {
    "tiny-yolo": (TINY_YOLO, control(cut=4), header()),
    "tiny-yolo-keep-letterbox": (TINY_YOLO, control(mode=4 | 8, cut=7),
                                 header()),
    "region-reorg-shortcut": (REGION, control(cut=5, thresh=25), header()),
    "connected-avgpool-v1": (CONNECTED, control(cut=6, thresh=0),
                             header(0, 1)),
    "connected-transposed": (CONNECTED, control(mode=16, cut=5),
                             header(1001, 0)),
    "batchnorm-region": (BATCHNORM, control(cut=1), header()),
    "background": (BACKGROUND, control(cut=1, thresh=76), header()),
    "nan-weights": (TINY_YOLO, control(cut=2, thresh=0), header() + NAN),
    "inf-weights": (REGION, control(cut=3, thresh=0), header() + INF + NINF),
    "huge-anchors": (HUGE_ANCHORS, control(cut=1, thresh=0),
                     header() + struct.pack("<f", 80.0)),
    "mixed-floats": (TINY_YOLO, control(cut=5, thresh=1),
                     header() + struct.pack("<ff", 1.5, -0.25) + NAN
                     + struct.pack("<f", 1e-40)),
    "raw-truncated": (BACKGROUND, control(mode=2), header() + b"\0" * 40),
    "too-long": (BACKGROUND, control(mode=3, delta=4), header()),
    "too-short": (BACKGROUND, control(mode=3, delta=-4), header()),
    "no-weights-part": (BACKGROUND, None, None),
}


def main():
    corpus = os.path.join(HERE, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for name in os.listdir(corpus):
        os.remove(os.path.join(corpus, name))
    for name, (cfg, ctl, weights) in SEEDS.items():
        data = cfg.encode()
        if ctl is not None:
            data += b"\0" + ctl + weights
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
