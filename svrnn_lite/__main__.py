"""Allow ``python -m svrnn_lite``."""

import sys

from svrnn_lite.cli import main

sys.exit(main())
