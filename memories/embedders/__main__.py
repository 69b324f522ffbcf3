"""Entry point of ``python -m memories.embedders``."""

from memories.embedders.cli import main

raise SystemExit(main())
