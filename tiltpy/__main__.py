from tiltpy.cli.main import main

raise SystemExit(main())
