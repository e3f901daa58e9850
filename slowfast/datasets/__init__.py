"""Video datasets (Kinetics, SSv2, Charades), their shared clip pipeline and the data loaders."""

from slowfast.datasets.build import DATASET_REGISTRY, build_dataset  # noqa: F401
from slowfast.datasets.charades import Charades  # noqa: F401
from slowfast.datasets.clip_sampler import ClipSampler  # noqa: F401
from slowfast.datasets.decoder import DECODER_REGISTRY  # noqa: F401
from slowfast.datasets.errors import DataError  # noqa: F401
from slowfast.datasets.kinetics import Kinetics  # noqa: F401
from slowfast.datasets.options import DatasetOptions  # noqa: F401
from slowfast.datasets.ssv2 import Ssv2  # noqa: F401
from slowfast.datasets.video_dataset import AnnotationSource, VideoDataset, VideoRecord  # noqa: F401
