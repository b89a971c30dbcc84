#!/usr/bin/env python3
"""Runs `hugeblob mount -f` in a pseudo-terminal of a given width, reads a
file through the mount (its first use: every chunk is fetched from the
store), waits until a progress line has been drawn, unmounts with
fusermount3 -u, and checks what the terminal got: every redraw fits the
width, is erased to the end, shows MUST_CONTAIN parts, the line is cleared
at unmount, and the summary follows it.

Usage: mount_progress_pty.py COLUMNS MUST_CONTAIN[,..] MOUNTPOINT FILE_IN_MOUNT
         EXPECTED_SHA256 -- hugeblob args...
Prints one line per failed property and exits 1, or prints the redraws.
Every wait is for a state (mounted, a redraw seen, the daemon gone), with a
deadline, never a guessed time."""
import fcntl, hashlib, os, pty, select, struct, subprocess, sys, termios, time

from pty_redraws import check_redraws

cols = int(sys.argv[1])
must = [m for m in sys.argv[2].split(",") if m]
mnt, path, want_sha = sys.argv[3], sys.argv[4], sys.argv[5]
cmd = sys.argv[sys.argv.index("--") + 1:]
problems = []


def mounted():
    real = os.path.realpath(mnt)
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == real for line in f)


pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    os.environ.pop("COLUMNS", None)
    os.execvp(cmd[0], cmd)
out = b""


def pump(timeout):
    """Reads what the terminal got within `timeout` s; False at EOF."""
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:  # EIO: the child closed the terminal
        return False
    if not chunk:
        return False
    out += chunk
    return True


def wait(what, cond, seconds=60):
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            problems.append(f"timed out waiting for {what}: {out!r}")
            return False
        if not pump(0.05):
            problems.append(f"the mount ended while waiting for {what}: {out!r}")
            return False
    return True


if wait("the mount", mounted):
    # The first read of the file: every chunk comes from the store.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            pump(0)
    if h.hexdigest() != want_sha:
        problems.append(f"read {h.hexdigest()} through the mount, expected {want_sha}")
    wait("a progress line showing the fetch", lambda: b"\x1b[K" in out.replace(b"\r\x1b[K", b""))
subprocess.run(["fusermount3", "-u", mnt], check=False)
while pump(5):
    pass
_, status = os.waitpid(pid, 0)
text = out.decode("utf-8", "replace").replace("\r\n", "\n")
if os.waitstatus_to_exitcode(status) != 0:
    problems.append(f"exit status {os.waitstatus_to_exitcode(status)}: {text!r}")
bars, found, tail = check_redraws(text, cols, must, "the line is not cleared at unmount")
problems += found
if tail.startswith("\x1b[K") and ("fetched" not in tail or "request" not in tail):
    problems.append(f"no summary after the cleared line: {tail!r}")
for p in problems:
    print(p)
if not problems:
    for b in bars:
        print(f"{len(b):3d} |{b}|")
    print("after:", tail[3:].strip())
sys.exit(1 if problems else 0)
