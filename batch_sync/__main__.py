"""Run the command line as ``python -m batch_sync``."""

import sys

from batch_sync.cli import main

sys.exit(main())
