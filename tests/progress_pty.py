#!/usr/bin/env python3
"""Runs a command in a pseudo-terminal of a given width and checks its
progress bar: every redraw fits in the width (so the terminal never wraps it
and no piece of an older line stays behind), the bar is cleared before the
summary, and the parts a wide terminal has room for are there.

Usage: progress_pty.py COLUMNS MUST_CONTAIN[,..] -- command args...
Prints one line per failed property and exits 1, or prints the redraws."""
import fcntl, os, pty, struct, sys, termios

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
# Redraws: "\r" + bar + "\x1b[K"; the last "\r\x1b[K" clears the bar.
bars = []
for piece in text.split("\r")[1:]:
    if piece.startswith("\x1b[K"):
        rest = piece[3:]
        continue
    bar, sep, rest = piece.partition("\x1b[K")
    if not sep:
        problems.append(f"a redraw without erase-to-end: {piece!r}")
    bars.append(bar)
if not bars:
    problems.append(f"no progress drawn: {text!r}")
for b in bars:
    if len(b) > cols - 1:
        problems.append(f"a redraw of {len(b)} columns on a {cols}-column terminal: {b!r}")
    if "\n" in b:
        problems.append(f"a redraw holds a newline: {b!r}")
tail = text.rsplit("\r", 1)[-1] if "\r" in text else ""
if not tail.startswith("\x1b[K"):
    problems.append(f"the bar is not cleared before the summary: {tail!r}")
for m in must:
    if not any(m in b for b in bars):
        problems.append(f"no redraw shows {m!r}: {bars!r}")
for p in problems:
    print(p)
if not problems:
    for b in bars:
        print(f"{len(b):3d} |{b}|")
sys.exit(1 if problems else 0)
