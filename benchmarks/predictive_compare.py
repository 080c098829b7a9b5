"""BD-rate of a motion-compensated model's predicted_bits.py points against x264 medium and the
shipped default (benchmarks/results/rd_default, the same 120 carphone frames), and its speed on
48 carphone frames at q5 through the file API.

    python benchmarks/predictive_compare.py MODEL
"""
import json, sys, time, io
from fractions import Fraction
import numpy as np
from vqcodec import load_codec
from vqcodec.api import compress, decompress
from vqcodec.bench.clips import load_clip
from vqcodec.bench.bdrate import bd_rate
d = json.load(open("benchmarks/results/rd_default/carphone_pristine.json"))
x = [p for p in d["points"] if p["codec"] == "x264"]
full = [p for p in d["points"] if p["codec"] == "vqcodec"]
m = json.load(open("benchmarks/results/predictive/bits_carphone.json"))["points"]
print("BD vs x264 medium (payload bytes)", bd_rate([p["bytes"] for p in x], [p["psnr_rgb"] for p in x], [p["payload_bytes"] for p in m], [p["psnr_rgb"] for p in m]))
print("BD vs default full", bd_rate([p["bytes"] for p in full], [p["psnr_rgb"] for p in full], [p["payload_bytes"] for p in m], [p["psnr_rgb"] for p in m]))
codec = load_codec(sys.argv[1])
clip = load_clip("carphone_pristine.mp4", max_frames=48)
buf = io.BytesIO(); t0 = time.perf_counter()
compress(iter(clip.frames), buf, 176, 144, Fraction(30), 5, model=codec); te = time.perf_counter() - t0
t0 = time.perf_counter(); out = list(decompress(io.BytesIO(buf.getvalue()), model=codec)); td = time.perf_counter() - t0
print(f"176x144 q5 48 frames: encode {48/te:.1f} fps, decode {48/td:.1f} fps, {len(buf.getvalue())} bytes")
