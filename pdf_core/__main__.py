from pdf_core.cli import main

raise SystemExit(main())
