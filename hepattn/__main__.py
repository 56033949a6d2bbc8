"""``python -m hepattn`` runs the command line."""

import sys

from hepattn.cli import main

sys.exit(main())
