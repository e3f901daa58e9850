"""PyAV decoding of only the frames a clip needs from an encoded video file.

:func:`slowfast.datasets.decoder.open_video` returns a reader that knows the video's frame rate and
frame count (from the container, without decoding) and returns the frames at given indices as RGB
``uint8`` arrays. The PyAV reader maps frame index ``k`` to the time ``start + k / fps``, seeks to
the keyframe before the first wanted time, decodes the video stream only (audio packets are skipped)
with FFmpeg's threaded decoding, leaves undecoded every group of pictures (keyframe to keyframe)
that holds no wanted frame, lets the decoder drop the non-reference frames nobody asked for,
converts to RGB only the frames it returns (the one nearest in time to each wanted index, so
variable frame rates work) and stops after the last one. Wanted times more than :data:`SEEK_GAP_S`
apart are reached with a fresh seek rather than by decoding the gap.

``read(indices, short_side=S)`` returns the frames already scaled so that their short side is
``S`` (the size rule of :func:`slowfast.datasets.transform.short_side_shape`), with the
transform's OpenCV filter, so the frames are the same as resizing afterwards. For H.264 there is
no cheaper way: the codec has no reduced-resolution decoding, and FFmpeg's scaler asked to convert
and resize in one pass (PyAV's reformatter with a width and height) leaves its fast unscaled
YUV->RGB path: measured on 340x256 frames, 0.17-0.81 ms per frame against 0.04 ms for the
conversion alone plus 0.03-0.14 ms for OpenCV's resize. What makes coarse clips cheaper is
decoding fewer frames (short keyframe intervals: ``tools/prepare_videos.py``); JPEG frames do
have a reduced-scale decode (``frames``).

Every failure is a :class:`DataError` naming the file.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Iterator, Sequence
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from slowfast.datasets.errors import DataError
from slowfast.datasets.reader import DECODE_STATS, ReaderBase, resize_frames

# Wanted frames further apart than this (seconds) are reached by seeking instead of decoding on;
# longer than the keyframe interval of most encodes (x264's default is 250 frames).
SEEK_GAP_S = 10.0
# Packets within this many frames of a wanted time are always decoded (see _decoded_frames): the
# frame nearest a wanted time of a constant-rate stream is within half a frame of it; the rest is a
# margin for rounded timestamps.
_NEEDED_WITHIN_FRAMES = 0.55
# A stream that ends before this fraction of the frames its container announces is truncated.
_TRUNCATED_FRACTION = 0.9


class PyAVReader(ReaderBase):
    """Selective PyAV decoding of one video file (see the module docstring)."""

    def __init__(self, path: str, threads: int = 0):
        self.path = path
        # Instrumentation: frames the decoder produced so far (converted or not).
        self.frames_decoded = 0
        # One colour converter for all frames: frame.to_ndarray(format=...) builds a new
        # swscale context (and thread pool) per frame, which costs more than the conversion.
        self._reformatter = VideoReformatter()
        opened = time.perf_counter()
        try:
            self._container = av.open(path)
        except (av.error.FFmpegError, OSError) as e:
            raise DataError(f"{path}: cannot open video: {e}") from None
        try:
            if not self._container.streams.video:
                raise DataError(f"{path}: the file has no video stream")
            self._stream = self._container.streams.video[0]
            self._stream.thread_type = "AUTO"
            self._stream.codec_context.thread_count = threads
            self._time_base = self._stream.time_base or Fraction(1, 1_000_000)
            self._seconds_per_tick = float(self._time_base)  # float: used per packet
            self.fps = self._frame_rate()
            start_time = self._stream.start_time
            self._start = float(start_time * self._time_base) if start_time is not None else 0.0
            self._at_start = True  # nothing decoded yet: no seek needed for the first frames
            self.num_frames = self._frame_count()
        except BaseException:
            self._container.close()
            raise
        finally:
            DECODE_STATS["open_s"] += time.perf_counter() - opened
        if self.num_frames <= 0:
            self.close()
            raise DataError(f"{path}: the video stream has no frames")

    def _frame_rate(self) -> float:
        for rate in (self._stream.average_rate, self._stream.guessed_rate, self._stream.base_rate):
            if rate:
                return float(rate)
        raise DataError(f"{self.path}: the video stream has no frame rate")

    def _frame_count(self) -> int:
        if self._stream.frames:
            return int(self._stream.frames)
        duration = None
        if self._stream.duration:
            duration = float(self._stream.duration * self._time_base)
        elif self._container.duration:
            duration = self._container.duration / av.time_base
        if duration:
            return max(1, round(duration * self.fps))
        # No metadata at all (rare): count the packets once, then rewind.
        try:
            count = sum(1 for p in self._container.demux(self._stream) if p.size)
            self._container.seek(0)
        except av.error.FFmpegError as e:
            raise DataError(f"{self.path}: cannot read the video stream: {e}") from None
        return count

    def time_of(self, index: int) -> float:
        """Presentation time (seconds) of frame ``index``."""
        return self._start + index / self.fps

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        if not indices:
            raise ValueError("read() needs at least one frame index")
        wanted = sorted(set(int(i) for i in indices))
        picked: dict[int, np.ndarray] = {}
        for start, stop in _runs([self.time_of(i) for i in wanted], SEEK_GAP_S):
            picked.update(self._read_run(wanted[start:stop]))
        frames = np.stack([picked[int(i)] for i in indices])
        start = time.perf_counter()
        frames = resize_frames(frames, short_side)
        DECODE_STATS["convert_s"] += time.perf_counter() - start
        return frames

    def _seek(self, seconds: float) -> None:
        """Move to the keyframe at or before ``seconds`` (minus one frame: timestamps round)."""
        target = math.floor((seconds - 1.0 / self.fps) / self._time_base)
        start = time.perf_counter()
        self._container.seek(max(target, 0), stream=self._stream, backward=True, any_frame=False)
        DECODE_STATS["seek_s"] += time.perf_counter() - start

    def _read_run(self, indices: list[int]) -> dict[int, np.ndarray]:
        """Decode from the keyframe before ``indices[0]`` until ``indices[-1]`` is passed."""
        times = [self.time_of(i) for i in indices]
        if self._at_start and times[0] <= self._start + 0.5 / self.fps:
            result = self._decode_until(indices, times, check_seek=False)
        else:
            self._seek(times[0])
            result = self._decode_until(indices, times, check_seek=True)
            if result is None:
                # The demuxer landed after the first wanted frame: decode from the start.
                self._seek(self._start)
                result = self._decode_until(indices, times, check_seek=False)
        self._at_start = False
        return result

    def _decode_until(
        self, indices: list[int], times: list[float], check_seek: bool
    ) -> dict[int, np.ndarray] | None:
        out: dict[int, np.ndarray] = {}
        last_converted: list = [None, None]  # (frame, RGB array): a frame converts once

        def rgb(frame: av.VideoFrame) -> np.ndarray:
            # Wanted times are visited in order, so a frame is never picked after a later one.
            if last_converted[0] is not frame:
                start = time.perf_counter()
                rgb_frame = self._reformatter.reformat(frame, format="rgb24", threads=1)
                last_converted[:] = [frame, rgb_frame.to_ndarray()]
                DECODE_STATS["convert_s"] += time.perf_counter() - start
            return last_converted[1]

        half_frame = 0.5 / self.fps
        prev, prev_t, next_i = None, -math.inf, 0
        frame_t = -math.inf
        try:
            for frame in self._decoded_frames(times):
                self.frames_decoded += 1
                DECODE_STATS["frames"] += 1
                frame_t = self._frame_time(frame, prev_t)
                if check_seek and prev is None and frame_t > times[0] + half_frame:
                    return None
                # Every wanted time up to this frame goes to the nearer of this and the last frame.
                while next_i < len(times) and times[next_i] <= frame_t:
                    t = times[next_i]
                    nearer_prev = prev is not None and t - prev_t <= frame_t - t
                    out[indices[next_i]] = rgb(prev) if nearer_prev else rgb(frame)
                    next_i += 1
                if next_i == len(times):
                    return out
                prev, prev_t = frame, frame_t
        except av.error.FFmpegError as e:
            raise DataError(f"{self.path}: decoding failed near {frame_t:.2f} s: {e}") from None
        # End of stream with wanted frames left: clamp to the last frame, unless it is truncated.
        if prev is None:
            raise DataError(
                f"{self.path}: no frame could be decoded from {times[0]:.2f} s on "
                "(empty or truncated video stream)"
            )
        last_index = (prev_t - self._start) * self.fps
        if last_index + 1 < _TRUNCATED_FRACTION * self.num_frames:
            raise DataError(
                f"{self.path}: truncated video: the stream ends at frame {last_index:.0f} "
                f"({prev_t:.2f} s) but the container announces {self.num_frames} frames"
            )
        last = rgb(prev)
        for i in indices[next_i:]:
            out[i] = last
        return out

    def _decoded_frames(self, times: list[float]) -> Iterator[av.VideoFrame]:
        """Decode the video stream from the current position, skipping what nobody needs.

        Two savings, both exact (every frame returned is the frame a full decode gives):

        * GOPs are decoded lazily: the packets since the last keyframe are held back until one
          of them is within :data:`_NEEDED_WITHIN_FRAMES` frames of a wanted time, and dropped
          undecoded when the next keyframe comes first. A group of pictures with no sampled
          frame (a clip's gaps at a high sampling rate, with short keyframe intervals) costs
          only its demuxing.
        * Inside a decoded GOP, a packet far from every wanted time is decoded with
          ``skip_frame = NONREF``: if no other frame refers to it (B-frames, typically half of an
          x264 stream), the decoder drops it. Reference frames are always decoded.

        Past the last wanted time every packet is fed, so the decoder hands out the frames it
        holds back for reordering.
        """
        context = self._stream.codec_context
        tolerance = _NEEDED_WITHIN_FRAMES / self.fps
        last_wanted = times[-1] + tolerance
        mode = None
        pending: list[tuple[av.Packet, bool]] = []  # held back: (packet, needed)
        start = time.perf_counter()
        try:
            for packet in self._container.demux(self._stream):
                if packet.pts is None:  # the end-of-stream flush packet
                    needed, past = True, True
                else:
                    t = packet.pts * self._seconds_per_tick
                    j = bisect.bisect_left(times, t - tolerance)
                    needed = j < len(times) and times[j] <= t + tolerance
                    past = t > last_wanted
                if packet.is_keyframe and not past:
                    pending.clear()  # the last GOP's tail: no wanted frame depends on it
                pending.append((packet, needed))
                if not (needed or past):
                    continue
                for held, held_needed in pending:
                    wanted = "DEFAULT" if held_needed else "NONREF"
                    if wanted != mode:
                        context.skip_frame = mode = wanted
                    frames = held.decode()
                    DECODE_STATS["decode_s"] += time.perf_counter() - start
                    start = None  # the consumer's time is not decoding
                    yield from frames
                    start = time.perf_counter()
                pending.clear()
        finally:
            if start is not None:
                DECODE_STATS["decode_s"] += time.perf_counter() - start
            context.skip_frame = "DEFAULT"

    def _frame_time(self, frame: av.VideoFrame, prev_t: float) -> float:
        pts = frame.pts if frame.pts is not None else frame.dts
        if pts is not None:
            return pts * self._seconds_per_tick
        return prev_t + 1.0 / self.fps if prev_t > -math.inf else self._start

    def close(self) -> None:
        self._container.close()


def _runs(times: list[float], gap: float) -> list[tuple[int, int]]:
    """(start, stop) slices of sorted ``times``, split where neighbours are over ``gap`` apart."""
    runs, start = [], 0
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > gap:
            runs.append((start, i))
            start = i
    runs.append((start, len(times)))
    return runs
