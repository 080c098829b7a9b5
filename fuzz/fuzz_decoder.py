"""Coverage-guided fuzz target for the .vqv container parser and the decoder (atheris).

    python fuzz/fuzz_decoder.py [CORPUS_DIR ...] [-runs=N] [-seed=S] [libFuzzer flags]

One input is one whole stream. It is parsed (StreamHeader.read, then every packet
through iter_packets) and decoded to the last frame with the pinned tiny model
(tests/expected/models/tiny.json) by Codec.decompress. The only exceptions allowed
out are the library's own: ContainerError, CodecError (TokenMismatchError among
them) and EntropyCodingError. Anything else, an IndexError, a struct.error, a torch
RuntimeError, a MemoryError, is a finding, and libFuzzer writes the input to
crash-<sha1>. Pass -timeout=10 -rss_limit_mb=4096 to make hangs and memory findings too.

The corpus starts from the golden streams in tests/expected/*.vqv. A custom
mutator (fuzz/mutate.py) keeps the CRCs right most of the time, so mutations get
past the container to the range decoder, the prior and the motion code; plain
libFuzzer mutation is kept for a third of the inputs.

Without atheris (it ships wheels for CPython on Linux x86-64 only) the same
command runs a plain random-mutation loop over the same target and mutator:
-runs and -seed mean the same, findings go to crash-<sha1> in the working folder.
fuzz/run_fuzz.py is the bounded runner with a per-case time limit, peak RSS and a
JSON summary; this file is the in-process, coverage-guided one.
"""
from __future__ import annotations

import hashlib
import io
import os
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))  # mutate.py, when run as a script from anywhere
GOLDEN = ROOT / "tests" / "expected"
MODEL = GOLDEN / "models" / "tiny.json"
ORACLE_RATE = 0.15  # share of mutated cases whose tokens CRCs are recomputed by decoding

import mutate  # noqa: E402  (after the path is set)


def seed_streams() -> list[bytes]:
    """Every golden stream: full and low-latency, each format version, other models' too.
    Those the tiny model decodes come four times: a case drawn from another model's
    stream stops at the model check, and the decoder behind it is the harder half."""
    streams = [p.read_bytes() for p in sorted(GOLDEN.glob("*.vqv"))]
    tiny = MODEL.stem.encode()
    return [s for s in streams for _ in range(4 if mutate.model_name(s) == tiny else 1)]


def expected_errors() -> tuple[type[BaseException], ...]:
    from vqcodec.errors import CodecError
    from vqcodec.format.container import ContainerError
    from vqcodec.coding.range_coder import EntropyCodingError

    return ContainerError, CodecError, EntropyCodingError


def load_codec():
    # One thread: the same arithmetic on every run, and the fuzzer shares two cores.
    import torch

    from vqcodec.zoo import load_codec as load

    torch.set_num_threads(1)
    return load(str(MODEL))


def run_case(codec, data: bytes) -> tuple[str, str]:
    """Parse `data`, then decode all of it. -> (parser outcome, decoder outcome), each
    "ok" or the name of the library error raised. Any other exception propagates."""
    from vqcodec.api import decompress
    from vqcodec.format.container import ContainerError, StreamHeader, iter_packets

    allowed = expected_errors()
    header, parsed = None, "ok"
    f = io.BytesIO(data)
    try:
        header = StreamHeader.read(f)
        for _ in iter_packets(f, header):
            pass
    except ContainerError as e:
        parsed = type(e).__name__
    decoded, want = "ok", None if header is None else (header.height, header.width, 3)
    try:
        for frame in decompress(io.BytesIO(data), model=codec):
            # What the decoder promises of each yield, checked so a wrong shape is a finding.
            # decompress() reads like a live stream: it skips bytes before a header (late
            # join) where the parser refuses them, so without the parser's header the
            # first frame's shape is the stream's.
            want = want or frame.shape
            if frame.dtype.name != "uint8" or frame.shape != want or frame.shape[2:] != (3,):
                raise AssertionError(f"decoder yielded {frame.dtype} {frame.shape} for a stream "
                                     f"of {want} frames")
    except allowed as e:
        decoded = type(e).__name__
    return parsed, decoded


def fix_token_crcs(codec, data: bytes) -> bytes:
    """Recompute the tokens CRC of each full-mode GOP by decoding its payload, so the
    case gets past that last check to the autoencoder. Best effort: an input the
    decoder refuses before then, or a codec API it cannot use, is returned as it was."""
    from vqcodec.format.container import Mode, PacketType, StreamHeader, iter_packets
    from vqcodec.codec import tokens_crc

    raw = mutate.parse(data)
    try:
        f = io.BytesIO(data)
        header = StreamHeader.read(f)
        packets = list(iter_packets(f, header))
    except Exception:  # noqa: BLE001  (an oracle: any refusal means "leave it")
        return data
    # Pair the coded GOPs of both readings (iter_packets leaves v3 HEADER packets out).
    coded = (PacketType.INTRA, PacketType.INTER)
    packets = [p for p in packets if p.kind in coded]
    raws = [p for p in raw.packets if p.fields["kind"] in coded] if raw is not None else []
    if header.mode != Mode.FULL or len(packets) > len(raws):
        return data
    s = codec.factor_s
    h, w = -(-header.height // s), -(-header.width // s)
    prev = None
    for packet, rp in zip(packets, raws):
        if packet.kind == PacketType.INTRA:
            prev = codec.empty_context(h, w)
        elif prev is None:
            continue
        try:
            latent = -(-packet.frame_count // codec.factor_t)
            tokens, prev = codec.decode_payload(packet.payload, latent, header.quality, prev, header.version)
        except Exception:  # noqa: BLE001
            break
        rp.fields["tokens_crc"] = tokens_crc(tokens) & 0xFFFFFFFF
    return raw.to_bytes()


def make_case(rng: random.Random, codec, seeds: list[bytes], data: bytes | None = None) -> bytes:
    """One mutated stream from `data` (or a random seed), tokens CRCs fixed now and then."""
    out = mutate.mutate(rng, rng.choice(seeds) if data is None else data, seeds)
    if codec is not None and rng.random() < ORACLE_RATE:
        out = fix_token_crcs(codec, out)
    return out


def _fallback(argv: list[str]) -> int:
    """libFuzzer's -runs/-seed interface over random mutation, for a Python with no atheris."""
    opts = dict(a[1:].split("=", 1) for a in argv[1:] if a.startswith("-") and "=" in a)
    runs, seed = int(opts.get("runs", 10_000)), int(opts.get("seed", 0))
    codec, seeds = load_codec(), seed_streams()
    allowed = expected_errors()
    start = time.monotonic()
    for i in range(runs):
        data = make_case(random.Random(seed * 1_000_003 + i), codec, seeds)
        try:
            run_case(codec, data)
        except allowed:
            pass
        except Exception:  # noqa: BLE001  (the finding itself)
            name = f"crash-{hashlib.sha1(data).hexdigest()}"
            Path(name).write_bytes(data)
            traceback.print_exc()
            print(f"==finding== case {i}: input written to {name}", file=sys.stderr)
            return 1
        if (i + 1) % 500 == 0:
            print(f"#{i + 1}\t{(i + 1) / (time.monotonic() - start):.1f} exec/s", file=sys.stderr)
    print(f"Done {runs} runs in {time.monotonic() - start:.0f} s (fallback: no atheris)", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    try:
        import atheris
    except ImportError:
        return _fallback(argv)
    # Instrument our package only: coverage of torch's Python would drown the signal.
    with atheris.instrument_imports(include=["vqcodec"]):
        import vqcodec.codec  # noqa: F401
        import vqcodec.format.container  # noqa: F401
        import vqcodec.coding.range_coder  # noqa: F401
        import vqcodec.modes.lowlatency  # noqa: F401
        import vqcodec.motion.side_info  # noqa: F401
    codec, seeds = load_codec(), seed_streams()
    allowed = expected_errors()

    def test_one_input(data: bytes) -> None:
        try:
            run_case(codec, data)
        except allowed:  # run_case catches them already; kept for a decoder that grows new paths
            pass

    def custom_mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 1 / 3 or not data:
            return atheris.Mutate(data, max_size)
        return make_case(rng, codec, seeds, data)[:max_size]

    if not any(not a.startswith("-") for a in argv[1:]):  # no corpus named: start one from the seeds
        corpus = tempfile.mkdtemp(prefix="vqv-corpus-")
        for i, s in enumerate(seeds):
            Path(corpus, f"seed-{i}.vqv").write_bytes(s)
        argv = argv + [corpus]
    atheris.Setup(argv, test_one_input, custom_mutator=custom_mutator)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    sys.exit(main(sys.argv))
