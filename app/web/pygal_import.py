"""pygal, without the import hook it leaves behind.

pygal appends a legacy import hook (for its map plugins, unused here) to ``sys.meta_path``. It has
no ``find_spec``, so from then on every failed optional import anywhere in the process (babel's
``import pytz``, dateutil's ``import winreg``) first raises an ImportWarning: an error under our
test settings, and noise elsewhere. Import pygal from here, where nothing else is imported
between pygal and the hook's removal.
"""

from __future__ import annotations

import sys

import pygal
from pygal.style import Style

sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, pygal.PluginImportFixer)]

__all__ = ["Style", "pygal"]
