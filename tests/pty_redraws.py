"""The checks both progress tests make of what a terminal received (imported
by progress_pty.py and mount_progress_pty.py): every redraw ("\\r" + line +
"\\x1b[K") is erased to the end, fits in `cols` - 1 columns, holds no
newline, and the MUST parts each appear in some redraw; the last line is
cleared ("\\r\\x1b[K") before what follows it."""


def check_redraws(text, cols, must, cleared_what):
    """Returns (redraws, problems, tail): tail is what follows the last "\\r"."""
    problems = []
    bars = []
    for piece in text.split("\r")[1:]:
        if piece.startswith("\x1b[K"):
            continue
        bar, sep, _ = piece.partition("\x1b[K")
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
        problems.append(f"{cleared_what}: {tail!r}")
    for m in must:
        if not any(m in b for b in bars):
            problems.append(f"no redraw shows {m!r}: {bars!r}")
    return bars, problems, tail
