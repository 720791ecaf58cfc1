"""``python -m edge_alpr ...`` is the same as the ``edge-alpr`` command."""
from edge_alpr.cli import main

raise SystemExit(main())
