"""examples/: the TCP camera example runs end to end and reports its latency."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_tcp_camera_example(tmp_path, tiny_model):
    out = tmp_path / "latency.json"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "tcp_camera.py"), "--model", tiny_model,
                           "--size", "64x48", "--frames", "12", "--fps", "50", "--keyint", "4",
                           "--latency", "1", "--quality", "2", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text())
    assert doc["frames"] == 12 and "latency median" in done.stdout
    assert doc["latency_ms"]["median"] > 0 and doc["latency_frames"]["max"] >= 1  # latency 1 holds one back
