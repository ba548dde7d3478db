"""TurboMode: calibrated nightly BUY/SELL signals for US stocks, run by the OS scheduler."""

import logging as _logging

__version__ = "0.1.0"

# True in a `turbomode` command's own process (set by turbomode.cli.main before the command runs):
# objects loaded for the rest of such a short-lived process may then be frozen out of the cyclic
# collector's sight (turbomode.ml.predict); a host process (tests, a notebook) keeps the default.
SHORT_LIVED_PROCESS = False

# Log records go to the rotating file (turbomode.logs); never to the terminal by accident.
_logging.getLogger("turbomode").addHandler(_logging.NullHandler())
_logging.getLogger("turbomode").propagate = False
