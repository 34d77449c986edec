import sys

from flygnn.cli import main

sys.exit(main())
