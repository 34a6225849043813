"""Optional dependencies: numpy is used when importable; pandas is never
imported here, only recognised when the caller already uses it."""

import sys

try:
    import numpy as np
except ImportError:  # the bindings work on plain lists without it
    np = None


def pandas():
    """The pandas module if the program imported it, else None.

    A pandas object can only exist once pandas is imported, so looking in
    sys.modules is enough and keeps ``import tsa`` fast.
    """
    return sys.modules.get("pandas")
