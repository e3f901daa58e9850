"""What the shared clip pipeline of a dataset needs besides its records and clip sampler.

:class:`DatasetOptions` gathers the clip shape, the spatial transform, normalisation and pathway
packing, the decoder and the error policy as plain values, so a dataset takes explicit arguments
and reads no config; :meth:`DatasetOptions.from_cfg` is the edge that reads them (PySlowFast key
names in the field comments).
"""

from __future__ import annotations

from dataclasses import dataclass

from fvcore.common.config import CfgNode

from slowfast.config.errors import ConfigError
from slowfast.datasets.decoder import resolve_backend
from slowfast.datasets.packing import Packing
from slowfast.datasets.shape import ClipShape
from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


@dataclass(frozen=True)
class DatasetOptions:
    """Plain settings of a :class:`~slowfast.datasets.video_dataset.VideoDataset`."""

    num_classes: int  # MODEL.NUM_CLASSES
    num_frames: int = 8  # DATA.NUM_FRAMES
    sampling_rate: int = 8  # DATA.SAMPLING_RATE
    max_sampling_rate: int = 0  # MULTIGRID.LONG_CYCLE_SAMPLING_RATE
    train_crop_size: int = 224  # DATA.TRAIN_CROP_SIZE
    jitter_scales: tuple[int, int] = (256, 320)  # DATA.TRAIN_JITTER_SCALES
    test_crop_size: int = 256  # DATA.TEST_CROP_SIZE
    num_spatial_crops: int = 3  # TEST.NUM_SPATIAL_CROPS (1: the centre crop)
    random_flip: bool = True  # DATA.RANDOM_FLIP
    inverse_uniform: bool = False  # DATA.INV_UNIFORM_SAMPLE
    decode_at_scale: bool = False  # DATA.DECODE_AT_SCALE
    mean: tuple[float, ...] = (0.45, 0.45, 0.45)  # DATA.MEAN
    std: tuple[float, ...] = (0.225, 0.225, 0.225)  # DATA.STD
    packing: Packing = Packing()  # MODEL.ARCH, SLOWFAST.ALPHA, DATA.REVERSE_INPUT_CHANNEL
    backend: str = "pyav"  # DATA.DECODING_BACKEND, as resolved for this environment
    decoded_cache_mb: float = 0.0  # DATA.DECODED_CACHE_MB
    max_load_retries: int = 10  # DATA.MAX_LOAD_RETRIES
    skip_failed_videos: bool = False  # TEST.SKIP_FAILED_VIDEOS
    seed: int = 1  # RNG_SEED

    @classmethod
    def from_cfg(cls, cfg: CfgNode) -> DatasetOptions:
        """The options a config asks for; the decoding backend is resolved here (see
        :func:`resolve_backend`), so a missing ``decord`` is a :class:`ConfigError`."""
        data = cfg.DATA
        low, high = data.TRAIN_JITTER_SCALES
        return cls(
            num_classes=cfg.MODEL.NUM_CLASSES,
            num_frames=data.NUM_FRAMES,
            sampling_rate=data.SAMPLING_RATE,
            max_sampling_rate=cfg.MULTIGRID.LONG_CYCLE_SAMPLING_RATE,
            train_crop_size=data.TRAIN_CROP_SIZE,
            jitter_scales=(int(low), int(high)),
            test_crop_size=data.TEST_CROP_SIZE,
            num_spatial_crops=cfg.TEST.NUM_SPATIAL_CROPS,
            random_flip=data.RANDOM_FLIP,
            inverse_uniform=data.INV_UNIFORM_SAMPLE,
            decode_at_scale=data.DECODE_AT_SCALE,
            mean=tuple(data.MEAN),
            std=tuple(data.STD),
            packing=Packing.from_cfg(cfg),
            backend=decoding_backend(data.DECODING_BACKEND),
            decoded_cache_mb=data.DECODED_CACHE_MB,
            max_load_retries=data.MAX_LOAD_RETRIES,
            skip_failed_videos=cfg.TEST.SKIP_FAILED_VIDEOS,
            seed=cfg.RNG_SEED,
        )

    def train_shape(self) -> ClipShape:
        """The clip shape of these options, for training items asked for without one."""
        low, high = self.jitter_scales
        return ClipShape(
            self.num_frames,
            self.train_crop_size,
            low,
            high,
            self.sampling_rate,
            self.max_sampling_rate,
        )


_backend_notes_logged: set[str] = set()


def decoding_backend(name: str) -> str:
    """The backend this process decodes with for ``DATA.DECODING_BACKEND`` ``name``; the
    fallback of an unusable ``torchvision`` is logged once per process, a missing ``decord`` is
    a configuration error."""
    backend, problem = resolve_backend(name)
    if problem is not None and backend == name:
        raise ConfigError(f"DATA.DECODING_BACKEND: {problem}")
    if problem is not None and name not in _backend_notes_logged:
        _backend_notes_logged.add(name)
        logger.warning(problem)
    return backend
