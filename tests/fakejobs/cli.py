"""The real `turbomode` CLI with the fake job registry: python -m tests.fakejobs.cli status --json."""

import sys

from tests.fakejobs import install_for_subprocess

if __name__ == "__main__":
    install_for_subprocess()
    from turbomode.cli.main import app

    app(prog_name="turbomode", args=sys.argv[1:])
