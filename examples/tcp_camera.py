"""A camera over TCP: frames -> StreamEncoder -> socket on 127.0.0.1 -> StreamDecoder -> frames.

    python examples/tcp_camera.py [--frames 100] [--size 176x144] [--fps 10] [--quality 1]
                                  [--keyint N] [--latency 0] [--mode lowlatency] [--json FILE]

The sender thread plays a camera: frame t is captured at t / fps seconds (a generated
scene: a fixed camera with objects moving, vqcodec.bench.scenes.static_scene), pushed
into a StreamEncoder, and every packet that comes out is written to the socket as it is.
The receiver (the main thread) reads whatever bytes arrive, pushes them into a
StreamDecoder, and for each frame that comes out measures the end-to-end latency:

    milliseconds  decoded time - capture time of that frame
    frames        frames captured by then - 1 - that frame's index

Both ends run in one process on this machine, so they share its CPU; on a camera
they would not. The encoder holds back at most --latency frames; the rest of the
latency is coding time (and queueing, if coding is slower than --fps).
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import threading
import time

import numpy as np


def camera(frames: int, width: int, height: int):
    from vqcodec.bench.scenes import static_scene

    clip = static_scene(min(frames, 96), width, height)  # made once, played ping-pong
    n = len(clip)
    for t in range(frames):
        i = t % max(1, 2 * n - 2)
        yield clip[i if i < n else 2 * n - 2 - i]


def sender(conn: socket.socket, args, captured: list[float]) -> None:
    from vqcodec.stream import StreamEncoder

    w, h = args.size
    options = {} if args.mode == "full" else {"keyint": args.keyint, "latency": args.latency}
    enc = StreamEncoder(w, h, args.fps, args.quality, mode=args.mode, model=args.model, **options)
    start = time.perf_counter()
    with conn:
        for t, frame in enumerate(camera(args.frames, w, h)):
            due = start + t / args.fps  # the camera's clock: wait for the frame to exist
            time.sleep(max(0.0, due - time.perf_counter()))
            captured.append(time.perf_counter())
            for packet in enc.push(frame):
                conn.sendall(packet)
        for packet in enc.flush():
            conn.sendall(packet)


def run(args) -> dict:
    import torch

    from vqcodec.stream import StreamDecoder

    torch.set_num_threads(args.threads)  # per side: sender and receiver each get a core

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    captured: list[float] = []  # capture time of frame t, appended by the sender
    client = socket.create_connection(("127.0.0.1", port))
    conn, _ = server.accept()
    thread = threading.Thread(target=sender, args=(conn, args, captured), daemon=True)
    thread.start()
    from vqcodec import load_codec

    dec = StreamDecoder(load_codec(args.model))  # loaded up front: a receiver that knows its camera
    ms, behind, decoded = [], [], 0
    with client:
        while data := client.recv(1 << 16):
            for frame in dec.push(data):
                now = time.perf_counter()
                t = dec.first_frame + decoded
                assert frame.shape == (args.size[1], args.size[0], 3) and frame.dtype == np.uint8
                ms.append(1000 * (now - captured[t]))
                behind.append(len(captured) - 1 - t)
                decoded += 1
    dec.flush()
    thread.join()
    server.close()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
    return {
        "command": " ".join(["tcp_camera.py", *sys.argv[1:]]), "frames": decoded, "size": args.size,
        "fps": args.fps, "mode": args.mode, "quality": args.quality, "keyint": args.keyint,
        "latency_setting": args.latency, "torch_threads": args.threads,
        "latency_ms": {"median": round(statistics.median(ms), 1), "p95": round(q(ms, 0.95), 1),
                       "max": round(max(ms), 1), "mean": round(statistics.fmean(ms), 1)},
        "latency_frames": {"median": statistics.median(behind), "p95": q(behind, 0.95), "max": max(behind)},
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, default=100)
    p.add_argument("--size", type=lambda s: tuple(int(v) for v in s.split("x")), default=(176, 144))
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--quality", type=int, default=1)
    p.add_argument("--mode", choices=["lowlatency", "full"], default="lowlatency")
    p.add_argument("--keyint", type=int, default=None, help="keyframe interval (default: the mode's)")
    p.add_argument("--latency", type=int, default=0)
    p.add_argument("--model", default="default")
    p.add_argument("--threads", type=int, default=1, help="torch threads (shared by both ends)")
    p.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = p.parse_args()
    doc = run(args)
    print(f"{doc['frames']} frames {args.size[0]}x{args.size[1]} at {args.fps:g} fps over TCP, "
          f"{args.mode} q{args.quality}: latency median {doc['latency_ms']['median']} ms "
          f"(p95 {doc['latency_ms']['p95']}, max {doc['latency_ms']['max']}), "
          f"{doc['latency_frames']['median']} frames behind the camera (max {doc['latency_frames']['max']})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
