"""Suite-wide settings.

Under CI (``CI`` set) hypothesis runs derandomised, so a commit's CI result is reproducible;
developers' runs keep exploring new random examples (and replay any failure from
``.hypothesis/``).
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
