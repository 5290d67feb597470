"""``python -m superposition_lib.cli``: the ``superposition`` command."""

import sys

from .app import main

sys.exit(main())
