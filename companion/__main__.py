"""`python -m companion`: the same as the `companion` command (the systemd unit uses it)."""

import sys

from companion.cli.main import main

sys.exit(main())
