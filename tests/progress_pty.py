#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal of a given width and checks its
progress bar: every redraw fits in the width (so the terminal never wraps it
and no piece of an older line stays behind), the bar is cleared before the
summary, and the parts a wide terminal has room for are there.

Usage: progress_pty.py COLUMNS MUST_CONTAIN[,..] -- command args...
Prints one line per failed property and exits 1, or prints the redraws."""
import fcntl, os, pty, struct, sys, termios

from pty_redraws import check_redraws

cols = int(sys.argv[1])
must = [m for m in sys.argv[2].split(",") if m]
cmd = sys.argv[sys.argv.index("--") + 1:]

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.environ.pop("COLUMNS", None)
    os.execvp(cmd[0], cmd)
out = b""
while True:
    try:
        chunk = os.read(fd, 65536)
    except OSError:  # EIO: the child closed the terminal
        break
    if not chunk:
        break
    out += chunk
_, status = os.waitpid(pid, 0)
text = out.decode("utf-8", "replace").replace("\r\n", "\n")
problems = []
if os.waitstatus_to_exitcode(status) != 0:
    problems.append(f"exit status {os.waitstatus_to_exitcode(status)}: {text!r}")
bars, found, tail = check_redraws(text, cols, must, "the bar is not cleared before the summary")
problems += found
for p in problems:
    print(p)
if not problems:
    for b in bars:
        print(f"{len(b):3d} |{b}|")
sys.exit(1 if problems else 0)
