"""``python -m service.cli ...``: the ``temix`` command without its console script."""

import sys

from service.cli import main

sys.exit(main())
