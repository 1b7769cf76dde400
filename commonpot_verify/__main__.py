"""``python -m commonpot_verify``: the same as the ``commonpot-verify`` command."""

import sys

from commonpot_verify.cli import main

if __name__ == "__main__":
    sys.exit(main())
