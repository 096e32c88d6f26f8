from __future__ import annotations

import sys
from pathlib import Path

# The shared collaboration and corpora live next to the tests as plain modules.
sys.path.insert(0, str(Path(__file__).parent))
