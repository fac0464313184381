"""Activated from ``speedbump.pth`` at interpreter start-up, before the
program's own code, when SPEED_BUMP_TARGETS or SPEED_BUMP_SESSION is set."""

import os
import sys

try:
    from speedbump._speedbump import activate
except ImportError as error:  # a wheel built for another Python, say
    sys.stderr.write(
        f"speedbump: cannot load the hook into Python {sys.version.split()[0]} "
        f"({error}); reinstall speedbump for this interpreter\n"
    )
    sys.stderr.flush()
    os._exit(2)

activate()
