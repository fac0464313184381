"""Activated from ``speedbump.pth`` at interpreter start-up, before the
program's own code, when SPEED_BUMP_TARGETS or SPEED_BUMP_SESSION is set
(main interpreter only: see _interpreters.py)."""

import os
import sys

from speedbump._interpreters import in_main_interpreter


def _boot():
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


# In a subinterpreter: nothing (the hook measures the main interpreter), and
# never os._exit, which would end the whole process.
if in_main_interpreter():
    _boot()
