"""``python <template>/generator ...``: what copier's task runs in the new project."""

import sys
from pathlib import Path

if not __package__:
    # Run as a directory by copier's task (``python <template>/generator``): the package
    # is importable from the template's root, as pip's own __main__ does it.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.cli import main

if __name__ == "__main__":
    sys.exit(main())
