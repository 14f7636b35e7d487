"""Run many ``glassgpt`` command lines as separate processes, fast: import once, fork per case.

    python tests/support/forkrun.py CASES.json RESULTS.json [PARALLEL]

CASES.json is a list of ``{"argv": [...], "cwd": DIR, "stdout": FILE, "stderr": FILE,
"timeout": SECONDS}``; FILE may be a terminal's device (``/dev/pts/N``), and stdout may be
``"closed-pipe"``: a pipe whose reader has already gone, as after ``| head -c 1``.  This process imports the CLI and every command module (torch
included) once, then forks one child per case: the child changes to ``cwd``, points its
file descriptors 1 and 2 at the two files, runs ``glassgpt.cli.main(argv)`` and exits with
its status, as the ``glassgpt`` script would (an uncaught exception prints its traceback
and exits 1; argparse's exits keep their status).  Each child is a real process with its
own exit status, output files and the limits this process was started under (see
``limited.py``), without paying the ~1.5 s of importing torch again.  RESULTS.json gets
``[{"status": N, "seconds": S, "timed_out": bool}, ...]`` in the order of the cases.
"""

import importlib
import json
import os
import signal
import sys
import time
import traceback

import glassgpt.cli as cli

for _name in cli.COMMANDS:  # every command module now, so no child imports one again
    importlib.import_module(f"glassgpt.cli.{_name.replace('-', '_')}")


def _child(case: dict) -> int:
    os.chdir(case["cwd"])
    for fd, path in ((1, case["stdout"]), (2, case["stderr"])):
        if path == "closed-pipe":
            reader, handle = os.pipe()
            os.close(reader)
        else:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | (0 if path.startswith("/dev/") else os.O_TRUNC), 0o644)
        os.dup2(handle, fd)
        os.close(handle)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    try:
        return cli.main(case["argv"]) or 0
    except SystemExit as exc:  # argparse's --help / usage errors
        if isinstance(exc.code, int) or exc.code is None:
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except BaseException:  # what the interpreter does with an uncaught exception
        traceback.print_exc()
        return 1


def _flush_at_exit(status) -> int:
    """What the interpreter does at exit: flush stdout and stderr; a flush that fails prints
    "Exception ignored ..." and makes the status 120."""
    status = status if isinstance(status, int) else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception as exc:  # noqa: BLE001
            os.write(2, f"Exception ignored while flushing {stream.name}: {exc!r}\n".encode())
            status = 120
    return status


def main() -> None:
    cases = json.loads(open(sys.argv[1], encoding="utf-8").read())
    parallel = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    results: list[dict | None] = [None] * len(cases)
    running: dict[int, tuple[int, float]] = {}
    queue = list(range(len(cases)))
    while queue or running:
        while queue and len(running) < parallel:
            index = queue.pop(0)
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                status = 1
                try:
                    status = _child(cases[index])
                finally:
                    os._exit(_flush_at_exit(status))
            running[pid] = (index, time.monotonic())
        pid, wait_status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (index, started) in list(running.items()):
                if now - started > cases[index]["timeout"]:
                    os.kill(child, signal.SIGKILL)
                    results[index] = {"status": None, "seconds": now - started, "timed_out": True}
            time.sleep(0.01)
            continue
        index, started = running.pop(pid)
        if results[index] is None:
            results[index] = {
                "status": os.waitstatus_to_exitcode(wait_status),
                "seconds": time.monotonic() - started,
                "timed_out": False,
            }
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main()
