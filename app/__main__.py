"""`python -m app` is the same as the `sift` console script."""

from app.cli.main import main

raise SystemExit(main())
