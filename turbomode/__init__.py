"""TurboMode: calibrated nightly BUY/SELL signals for US stocks, run by the OS scheduler."""

import logging as _logging

__version__ = "0.1.0"

# Log records go to the rotating file (turbomode.logs); never to the terminal by accident.
_logging.getLogger("turbomode").addHandler(_logging.NullHandler())
_logging.getLogger("turbomode").propagate = False
