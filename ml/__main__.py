"""``python -m ml``: see ml/cli.py."""

from ml.cli import main

raise SystemExit(main())
