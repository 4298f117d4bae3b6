import sys

from rag_otel.cli import main

sys.exit(main())
