"""Where the checkout's files are, for the tools that read its configs.

The tools live in the checkout (``tools/sftools/`` here), so they find the repository root from
their own location; the ``slowfast`` library never does.
"""

from __future__ import annotations

import os

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS_DIR = os.path.join(REPO_ROOT, "configs")
