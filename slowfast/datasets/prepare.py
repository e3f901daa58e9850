"""Re-encoding a video dataset for fast training: a smaller short side and short keyframe intervals.

Kinetics-style downloads are full-size H.264 with a keyframe every 250 frames or so: to decode a
clip the decoder starts at the keyframe before it, so even an 8-frame multigrid clip costs nearly
as much as a full one. Re-encoded with a keyframe every ``K`` frames, a clip decodes from at most
``K - 1`` frames before its first one (the floor the benchmark reports), and a short side near
the training scales (256 for 224 crops, as PySlowFast's Kinetics preprocessing) makes every frame
cheaper.

:func:`reencode` writes one file (constant frame rate, the source's frame count and rate, no
audio) to ``dst + ".part"`` and renames it into place, so an interrupted run leaves no
half-written video under its real name; :func:`prepare_videos` re-encodes many in parallel and
skips those already done, so the same command resumes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from multiprocessing import get_context

import av

from slowfast.datasets.errors import DataError
from slowfast.datasets.transform import short_side_shape


@dataclass(frozen=True)
class EncodeSettings:
    """How videos are re-encoded (libx264, yuv420p)."""

    short_side: int | None = 256  # None keeps the source size
    keyframe_interval: int = 16
    crf: int = 23
    preset: str = "veryfast"
    bframes: int = 3

    def __post_init__(self) -> None:
        if self.short_side is not None and self.short_side < 2:
            raise ValueError(f"short_side must be >= 2 or None, got {self.short_side}")
        if self.keyframe_interval < 1:
            raise ValueError(f"keyframe_interval must be >= 1, got {self.keyframe_interval}")


def output_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """(height, width) of the re-encoded video: the training size rule, rounded down to even
    sides (4:2:0 chroma needs them)."""
    if short_side is not None:
        height, width = short_side_shape(height, width, short_side)
    return max(height - height % 2, 2), max(width - width % 2, 2)


def reencode(src: str, dst: str, settings: EncodeSettings) -> int:
    """Re-encode ``src`` into ``dst`` (see the module docstring); returns the frames written.

    A source that cannot be decoded is a :class:`DataError` naming it; nothing is left at ``dst``.
    """
    part = dst + ".part"
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    written = 0
    try:
        with av.open(src) as source:
            if not source.streams.video:
                raise DataError(f"{src}: the file has no video stream")
            stream = source.streams.video[0]
            stream.thread_type = "AUTO"
            rate = stream.average_rate or stream.guessed_rate or Fraction(30)
            height, width = output_size(stream.height, stream.width, settings.short_side)
            with av.open(part, "w", format="mp4") as out:
                out_rate = Fraction(rate).limit_denominator(1001)
                video = out.add_stream("libx264", rate=out_rate)
                video.width, video.height, video.pix_fmt = width, height, "yuv420p"
                video.codec_context.gop_size = settings.keyframe_interval
                k = settings.keyframe_interval
                params = f"keyint={k}:min-keyint={k}:scenecut=0:bframes={settings.bframes}"
                video.options = {
                    "preset": settings.preset,
                    "crf": str(settings.crf),
                    "x264-params": params,
                }
                for frame in source.decode(stream):
                    scaled = frame.reformat(width=width, height=height, format="yuv420p")
                    scaled.pts, scaled.time_base = written, 1 / out_rate
                    for packet in video.encode(scaled):
                        out.mux(packet)
                    written += 1
                for packet in video.encode():
                    out.mux(packet)
        if written == 0:
            raise DataError(f"{src}: no frame could be decoded")
        os.replace(part, dst)
    except (av.error.FFmpegError, OSError) as e:
        raise DataError(f"{src}: cannot re-encode: {e}") from None
    finally:
        if os.path.exists(part):
            os.remove(part)
    return written


@dataclass(frozen=True)
class _Job:
    src: str
    dst: str
    settings: EncodeSettings


def _run(job: _Job) -> tuple[str, str | None]:
    try:
        reencode(job.src, job.dst, job.settings)
        return job.src, None
    except DataError as e:
        return job.src, str(e)


@dataclass
class PrepareReport:
    """What :func:`prepare_videos` did."""

    done: int = 0
    skipped: int = 0  # already there from an earlier run
    failed: list[tuple[str, str]] | None = None  # (source, error)


def prepare_videos(
    pairs: Iterable[tuple[str, str]],
    settings: EncodeSettings,
    workers: int = 1,
    progress: bool = True,
) -> PrepareReport:
    """Re-encode every ``(src, dst)`` pair whose ``dst`` does not exist yet, ``workers`` at a time.

    A video that fails is reported (and left out), never fatal: a dataset of 240k downloads
    always holds a few broken files.
    """
    report = PrepareReport(failed=[])
    jobs = []
    for src, dst in pairs:
        if os.path.isfile(dst):
            report.skipped += 1
        else:
            jobs.append(_Job(src, dst, settings))
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), unit="video", desc="re-encoding")
    if workers <= 1:
        results: Iterable = map(_run, jobs)
        pool = None
    else:
        pool = get_context("spawn").Pool(workers)
        results = pool.imap_unordered(_run, jobs)
    try:
        for src, error in results:
            if error is None:
                report.done += 1
            else:
                report.failed.append((src, error))
            if bar is not None:
                bar.update()
    finally:
        if pool is not None:
            pool.close()
            pool.join()
        if bar is not None:
            bar.close()
    return report


def annotation_videos(path: str, separator: str = " ") -> list[str]:
    """The video paths of a Kinetics-style ``path label`` annotation file, in order."""
    from slowfast.datasets.annotations import bad_line, read_lines

    videos = []
    for lineno, line in read_lines(path, "annotation file"):
        fields = line.strip().rsplit(separator, 1)
        if len(fields) != 2 or not fields[0].strip():
            raise bad_line(path, lineno, line, f"expected 'path{separator}label'")
        videos.append(fields[0].strip())
    return videos


def mirror_paths(videos: Sequence[str], src_root: str, dst_root: str) -> list[tuple[str, str]]:
    """(source, destination) of each annotated video: relative paths are kept under
    ``dst_root``; an absolute path must lie under ``src_root`` (it cannot be kept otherwise)."""
    pairs = []
    src_root = os.path.abspath(src_root)
    for video in videos:
        if os.path.isabs(video):
            rel = os.path.relpath(video, src_root)
            if rel.startswith(os.pardir):
                raise DataError(
                    f"{video}: an absolute annotation path outside --src {src_root}; "
                    "make the annotation paths relative to DATA.PATH_PREFIX"
                )
        else:
            rel = video
        pairs.append((os.path.join(src_root, rel), os.path.join(dst_root, rel)))
    return pairs
