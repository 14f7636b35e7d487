"""Run ``glassgpt ARGS...`` as a real process under a memory limit, without root's privileges.

    python tests/support/limited.py LIMIT_BYTES train --out ...
    python tests/support/limited.py LIMIT_BYTES --exec PROGRAM ARGS...   # any program, same limits

Sets the address-space limit (``resource.setrlimit(RLIMIT_AS)``) and, when running as root,
drops the capabilities that let root write into read-only folders (CAP_DAC_OVERRIDE,
CAP_DAC_READ_SEARCH), then ``exec``s ``python -m glassgpt``.  Doing this in a launcher
instead of ``subprocess``'s ``preexec_fn`` keeps it safe when tests start processes from
several threads.
"""

import ctypes
import os
import resource
import sys

PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 24, 1, 2


def drop_root_file_powers() -> bool:
    """True when file permissions now bind this process (not root, or root without DAC capabilities)."""
    if os.geteuid() != 0:
        return True
    libc = ctypes.CDLL(None, use_errno=True)
    # dropped from the bounding set, root's capabilities after exec no longer include them
    return all(libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0 for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH))


def main() -> None:
    limit, args = int(sys.argv[1]), sys.argv[2:]
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    drop_root_file_powers()
    if args and args[0] == "--exec":
        os.execv(args[1], args[1:])
    os.execv(sys.executable, [sys.executable, "-m", "glassgpt", *args])


if __name__ == "__main__":
    main()
