"""`vqcodec`: compress, decompress, inspect and train (click; thin by design).

Each command parses its options, calls the library, and reports. Every
expected failure is one line on stderr starting with "error:" and a non-zero
exit, never a traceback (common.py). The choices offered (modes, keyframe
policies, the prior's arithmetic) come from the library, never a copy.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .batch_command import batch
from .bench_command import bench
from .common import DEVICES, EXIT_DAMAGED, Errors, checked_device, progress
from .encoder_options import check_mode_options, encoder_options
from .output_file import atomic_output, check_output
from .train_command import train


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vqcodec")
def main() -> None:
    """vqcodec: a learned video codec (VQ-VAE tokens coded by a transformer prior).

    \b
    Examples:
      vqcodec compress clip.mp4 clip.vqv --quality 4
      vqcodec decompress clip.vqv out.y4m
      vqcodec info clip.vqv
      ffmpeg -i in.mkv -f yuv4mpegpipe - | vqcodec compress - out.vqv
      vqcodec models
      vqcodec bench clip.mp4 --frames 64
      vqcodec batch compress videos/ --out compressed/
    """


@main.command()
@click.argument("input", metavar="IN")
@click.argument("output", metavar="OUT")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option("--stats", "stats_path", type=click.Path(dir_okay=False), default=None, help="Write bits/pixel, ideal and payload bits as JSON.")
@encoder_options
def compress(input, output, quality, model, device, force, stats_path, mode, keyint, keyframes, latency,
             arithmetic, rdo):
    """Compress the video IN (any format FFmpeg reads; - = y4m on stdin) into OUT (.vqv).

    \b
    Examples:
      vqcodec compress clip.mp4 clip.vqv
      vqcodec compress clip.mp4 clip.vqv --quality 8 --stats stats.json
      vqcodec compress cam.mp4 cam.vqv --mode lowlatency --keyint 8 --latency 0
      vqcodec compress cam.mp4 cam.vqv --mode lowlatency --keyframes adaptive --keyint 32 --latency 7
      vqcodec compress cam.mp4 cam.vqv --mode lowlatency --arithmetic float   # same-machine pipelines
      ffmpeg -i in.mkv -f yuv4mpegpipe - | vqcodec compress - out.vqv
    """
    with Errors():
        check_mode_options(mode)
        check_output(output, force)
        if stats_path:
            check_output(stats_path, force)
        from vqcodec import load_codec
        from vqcodec.stream import StreamEncoder
        from vqcodec.media.video_io import VideoReader

        codec = load_codec(model, checked_device(device))
        codec.use_rounding(rdo)
        with VideoReader(input) as reader:
            info = reader.info
            enc = StreamEncoder(info.width, info.height, info.fps, quality, mode=mode, model=codec,
                                keyint=keyint, keyframes=keyframes, latency=latency, arithmetic=arithmetic)
            q = enc.quality
            with atomic_output(output, force) as out, progress(info.frame_count, "compress") as bar:
                stats = enc.write(iter(reader), out, bar.update)
                if stats.frames == 0:  # inside: the output is then discarded, not committed
                    raise ValueError(f"{input} holds no frames")
        click.echo(
            f"{stats.frames} frames {stats.width}x{stats.height} {mode} q{q}: {stats.bytes} bytes, "
            f"{stats.bits_per_pixel:.4f} bpp, {stats.frames / stats.seconds:.1f} frames/s",
            err=True,
        )
        if stats_path:
            doc = stats.to_dict() | {
                "payload_over_ideal": stats.payload_bits / max(stats.ideal_bits, 1e-9),
                "saving_vs_raw_indices": 1 - stats.payload_bits / max(stats.raw_index_bits, 1e-9),
                "model": codec.model_id.name,
                "input": input,
            }
            Path(stats_path).write_text(json.dumps(doc, indent=2) + "\n")


@main.command()
@click.argument("input", metavar="IN")
@click.argument("output", metavar="OUT")
@click.option("--model", default=None, help="Model to decode with (default: the one named in the stream).")
@click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True)
@click.option("-f", "--force", is_flag=True, help="Overwrite OUT if it exists.")
@click.option("--follow", is_flag=True,
              help="IN is still being written: wait for its packets until the END packet "
                   "(or until it stops growing for --follow-wait seconds).")
@click.option("--follow-wait", type=click.FloatRange(0, 3600), default=10.0, show_default=True,
              help="--follow: seconds without new bytes after which the stream counts as cut short.")
@click.option("--strict", is_flag=True,
              help="Refuse a damaged stream (exit 3, no OUT) instead of writing the frames before the damage.")
def decompress(input, output, model, device, force, follow, follow_wait, strict):
    """Decompress IN (.vqv; - = stdin) into OUT: .y4m, .mkv (lossless FFV1), .mp4 (H.264, lossy) or - (y4m on stdout).

    A damaged or truncated stream: the frames before the damage are written, a warning
    says what was lost, and the exit code is 4 (--strict: nothing is written, exit 3).

    \b
    Examples:
      vqcodec decompress clip.vqv out.y4m
      vqcodec decompress clip.vqv out.mkv --force
      vqcodec decompress clip.vqv - | ffplay -
      vqcodec decompress live.vqv - --follow | ffplay -
    """
    with Errors():
        check_output(output, force)
        _check_video_output(output)
        if follow and input == "-":
            raise ValueError("--follow reads a file that is being written; stdin already waits for data")
        from vqcodec.errors import DAMAGED
        from vqcodec.format.container import StreamHeader
        from vqcodec.media.video_io import VideoWriter
        from vqcodec.stream import StreamDecoder
        from vqcodec.zoo import codec_for

        from .follow_input import GrowingFile

        inp = sys.stdin.buffer if input == "-" else _open_input(input)
        if follow:
            inp = GrowingFile(inp, follow_wait)
        with inp:
            header = StreamHeader.read(inp)
            codec = codec_for(header, model, checked_device(device))
            if not (strict or follow or input == "-"):  # a file: decode past damage
                _decompress_recovering(codec, inp, header, output, force)
                return
            with VideoWriter(output, header.width, header.height, header.fps, force=force) as writer, \
                    progress(header.frame_count, "decompress") as bar:
                done = 0
                try:
                    for _, frame in StreamDecoder(codec, header=header).read_from(inp):
                        writer.write(frame)
                        done += 1
                        bar.update(1)
                except DAMAGED as e:
                    if strict or done == 0:
                        raise
                    damaged = e
                else:
                    return
        _warn_damage(damaged, done, header.frame_count, follow and getattr(inp, "stalled", False))
        sys.exit(EXIT_DAMAGED)


def _decompress_recovering(codec, inp, header, output: str, force: bool) -> None:
    """Decode a seekable stream past damage (vqcodec.recovery): the frames lost inside
    the stream are concealed by repeating the frame before them, so the output keeps
    the stream's timing; every damage is one warning line; exit 4 if there was any."""
    from vqcodec.errors import ContainerError
    from vqcodec.media.video_io import VideoWriter
    from vqcodec.recovery import RecoveringDecoder

    inp.seek(0)
    rec = RecoveringDecoder(codec, inp)
    position = written = concealed = 0  # next frame index; frames written; of them repeats
    last = None
    with VideoWriter(output, header.width, header.height, header.fps, force=force) as writer, \
            progress(header.frame_count, "decompress") as bar:
        for index, frame in rec:
            while last is not None and position < index:  # a gap inside the stream
                writer.write(last)
                position, written, concealed = position + 1, written + 1, concealed + 1
            writer.write(frame)
            position, written, last = index + 1, written + 1, frame
            bar.update(1)
        if last is None and rec.damages:  # nothing recovered: an error, and no output
            raise ContainerError(rec.damages[0].reason)
    total = header.frame_count if header.frame_count is not None else (
        rec.header.frame_count if rec.header else None)
    for damage in rec.damages:
        click.echo(f"warning: stream {damage.describe(total)}", err=True)
    if rec.damages:
        click.echo(f"warning: wrote {written} frames, {concealed} of them concealed (the frame before "
                   f"repeated); use --strict to refuse damaged streams", err=True)
        sys.exit(EXIT_DAMAGED)


def _warn_damage(error: Exception, done: int, total: int | None, stalled: bool) -> None:
    at = getattr(error, "offset", None)
    lost = f"frames {done}..{total - 1} ({total - done})" if total else f"every frame from frame {done} on"
    where = f" at byte {at}" if at is not None else ""
    why = " (the file stopped growing: --follow-wait)" if stalled else ""
    click.echo(f"warning: stream damaged{where}: {' '.join(str(error).split())}{why}; "
               f"wrote frames 0..{done - 1}, lost {lost}", err=True)


def _check_video_output(path: str) -> None:
    """Refuse an output extension VideoWriter cannot write before any work
    (reading the stream, loading the model)."""
    from vqcodec.media.video_io import OUTPUT_EXTENSIONS

    ext = Path(path).suffix.lower()
    if path != "-" and ext not in OUTPUT_EXTENSIONS:
        raise ValueError(f"unsupported output extension {ext or '(none)'!r} for {path}; "
                         f"use {', '.join(OUTPUT_EXTENSIONS)} or - (stdout)")


def _open_input(path: str):
    p = Path(path)
    if not p.exists():
        raise ValueError(f"no such file: {path}")
    if p.is_dir():
        raise ValueError(f"{path} is a folder, not a .vqv file")
    return open(p, "rb")


@main.command()
@click.argument("file", metavar="FILE")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def info(file, as_json):
    """Describe a .vqv stream: model, size, frames, quality, packets, bitrate."""
    with Errors():
        from vqcodec.format.container import StreamHeader, iter_packets
        from vqcodec.format.versions import arithmetic_of, lowlatency_predicted, prior_kind_of

        with _open_input(file) as f:
            header = StreamHeader.read(f)
            packets = list(iter_packets(f, header))
            size = f.tell()
        frames = sum(p.frame_count for p in packets)
        # predicted steps: the full mode of v6+, the low-latency mode of v14+ (a motion model's)
        steps = header.version >= 6 and (header.mode.name == "FULL" or lowlatency_predicted(header.version))
        doc = {
            "file": file,
            "format_version": header.version,
            "prior": prior_kind_of(header.version),
            "prior_arithmetic": arithmetic_of(header.version),
            "model": header.model_name,
            "weights_sha256": header.weights_sha256.hex(),
            "mode": header.mode.name.lower(),
            "width": header.width,
            "height": header.height,
            "fps": f"{header.fps.numerator}/{header.fps.denominator}",
            "frames": frames,
            "gop": header.gop,
            "intra_period": header.intra_period,
            "quality": header.quality,
            **(_lowlatency_info(packets) if header.mode.name == "LOWLATENCY" and not steps else {}),
            **(_predicted_info(packets, header.version) if steps else {}),
            "packets": len(packets),
            # what is not payload: the packets' heads and the HEADER packets (iter_packets leaves them out)
            "framing_bytes": size - header.size - sum(len(p.payload) for p in packets),
            "bytes": size,
            "bits_per_pixel": 8 * size / max(1, frames * header.width * header.height),
            "kbps": 8 * size / 1000 / max(1e-9, frames / float(header.fps)) if frames else 0.0,
        }
        if as_json:
            click.echo(json.dumps(doc, indent=2))
        else:
            for k, v in doc.items():
                click.echo(f"{k:>16}: {v:.4f}" if isinstance(v, float) else f"{k:>16}: {v}")


def _lowlatency_info(packets) -> dict:
    """Keyframes and the frames held back, read from a low-latency stream's packets."""
    from vqcodec.format.container import PacketType

    keys = [p.first_frame + p.frame_count - 1 for p in packets
            if p.kind in (PacketType.INTRA, PacketType.INTER)]
    gaps = [b - a for a, b in zip(keys, keys[1:])]
    return {
        "keyframes": len(keys),
        "key_interval": f"{min(gaps)}..{max(gaps)}" if gaps else "-",
        "intra_keyframes": sum(p.kind == PacketType.INTRA for p in packets),
        "predicted_frames": sum(p.frame_count for p in packets if p.kind == PacketType.PREDICTED),
        # frames a keyframe packet waited for: the encoder's latency in use
        "held_back_frames": max((p.frame_count - 1 for p in packets
                                 if p.kind in (PacketType.INTRA, PacketType.INTER)), default=0),
    }


def _predicted_info(packets, version: int) -> dict:
    """What a format v6 full-mode (or v14 low-latency) encoder chose: intra GOPs
    (v9: and the qualities they are coded at), and per predicted step (from each
    INTER packet's head) predicted, skipped or intra; the bytes of each packet
    kind; the frames a packet's first frame waited for (the latency in use)."""
    from vqcodec.format import step_modes
    from vqcodec.format.container import PacketType
    from vqcodec.format.versions import intra_quality_coded

    intra = [p for p in packets if p.kind == PacketType.INTRA]
    inter = [p for p in packets if p.kind == PacketType.INTER]
    heads = [step_modes.read_for(version, p.payload) for p in inter]  # (modes, motion block size, head bytes)
    modes = [m for h in heads for m in h[0]]
    return {
        "intra_frames": sum(p.frame_count for p in intra),
        "predicted_frames": sum(p.frame_count for p in inter),
        **{f"{name}_steps": modes.count(m) for m, name in enumerate(step_modes.NAMES)},
        "intra_bytes": sum(len(p.payload) for p in intra),
        "predicted_bytes": sum(len(p.payload) for p in inter),
        "motion_block_sizes": sorted({h[1] for h in heads}),
        "held_back_frames": max((p.frame_count - 1 for p in intra + inter), default=0),
        **({"intra_qualities": sorted({p.payload[0] for p in intra if p.payload})}
           if intra_quality_coded(version) else {}),
    }


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def models(as_json):
    """List installed models: name, quality levels, latent factors, weights sha256."""
    with Errors():
        from vqcodec.zoo import available_models

        rows = []
        for e in available_models():
            cfg = e.config()
            rows.append({
                "name": e.name,
                "qualities": cfg.qualities,
                "latent_factors": {"t": cfg.autoencoder.factor_t, "s": cfg.autoencoder.factor_s},
                "quantizer": "scalar" if cfg.quantizer.scalar else "rvq",
                "codebook_size": cfg.quantizer.codebook_size,
                "gop": cfg.gop,
                "intra_period": cfg.intra_period,
                "sha256": e.sha256().hex(),
                "path": str(e.weights_path),
            })
        if as_json:
            click.echo(json.dumps(rows, indent=2))
        else:
            for r in rows:
                q = r["qualities"]
                click.echo(f"{r['name']}: qualities {q[0]}..{q[-1]}, latent t{r['latent_factors']['t']} x "
                           f"s{r['latent_factors']['s']}, {r['quantizer']} K={r['codebook_size']}, sha256 {r['sha256'][:16]}...")


main.add_command(batch)
main.add_command(bench)
main.add_command(train)

if __name__ == "__main__":
    main()
