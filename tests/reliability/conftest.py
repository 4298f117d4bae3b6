"""The reliability suite (issue 8): helpers live in reliability_helpers.py beside this file."""

from __future__ import annotations

import sys
from pathlib import Path

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))
