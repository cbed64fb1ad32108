"""`python -m advm` is the same program as the `advm` console script."""
from .cli import main

raise SystemExit(main())
