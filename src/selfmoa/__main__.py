"""``python -m selfmoa``: the same as the ``selfmoa`` command."""

from selfmoa.cli.main import main

raise SystemExit(main())
