"""Fast video-recognition training with multigrid schedules (PySlowFast-compatible)."""

__version__ = "0.1.0"
