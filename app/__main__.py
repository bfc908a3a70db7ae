"""``python -m app``: see ``app.server.cli``."""

from app.server.cli import main

if __name__ == "__main__":
    main()
