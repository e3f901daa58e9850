"""Installs the ``slowfast`` package (multigrid video training, PySlowFast-compatible)."""

from setuptools import find_packages, setup

setup(
    name="slowfast-multigrid",
    version="0.1.0",
    description="Fast video-recognition training with multigrid schedules, PySlowFast-compatible",
    python_requires=">=3.10",
    packages=find_packages(include=["slowfast", "slowfast.*"]),
    install_requires=[
        "torch>=2.6",  # torch.serialization.safe_globals with (object, name) pairs
        "fvcore",
        "iopath",
        "yacs",
        "PyYAML",
        "simplejson",
        "av",
        "opencv-python-headless",
        "numpy",
        "tqdm",
        "tensorboard",
        "matplotlib",
        "safetensors",
    ],
    extras_require={
        # torchvision's decoder and ImageNet weights; install the build matching your torch.
        "vision": ["torchvision"],
        "test": ["pytest"],
    },
)
