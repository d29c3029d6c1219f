"""`python -m neurograph` is the `neurograph` command."""
import sys

from neurograph.cli import main

sys.exit(main())
