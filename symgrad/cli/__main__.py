"""``python -m symgrad.cli``: the ``symgrad`` command."""

import sys

from . import main

sys.exit(main())
