"""Engine tests: plain pytest, nothing Django-related.

The engine tests import ``matching.engine`` (pure Python) and the helper modules
next to this file; make both importable whatever import mode or working
directory pytest runs with.
"""

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parents[1]
for _p in (str(_ROOT), str(_HERE)):
    if _p not in sys.path:
        sys.path.insert(0, _p)
