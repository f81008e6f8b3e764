"""``python -m attnkit`` runs the command-line interface."""

from attnkit.cli import main

raise SystemExit(main())
