from __future__ import annotations

from lpack.cli.commands import main

if __name__ == "__main__":
    main()
