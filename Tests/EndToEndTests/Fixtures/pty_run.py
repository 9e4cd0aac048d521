#!/usr/bin/env python3
"""Runs a command with its standard error (and, with --tty-stdin, its standard input) on a fresh
pseudo-terminal, standard output on a pipe, answering prompts seen on the terminal.

usage: pty_run.py [--tty-stdin] [--stdin TEXT] [--expect PATTERN --send TEXT]... [--timeout S] -- CMD ARGS...
Prints one JSON object: {"status": N, "stdout": "...", "tty": "..."} where tty is every byte the
command wrote to the terminal (plus the terminal's echo of what was sent)."""
import json, os, pty, select, subprocess, sys, time, tty as ttymod

args = sys.argv[1:]
split = args.index("--")
options, command = args[:split], args[split + 1:]
tty_stdin, stdin_text, timeout, answers = False, "", 60.0, []
i = 0
while i < len(options):
    o = options[i]
    if o == "--tty-stdin": tty_stdin = True; i += 1
    elif o == "--stdin": stdin_text = options[i + 1]; i += 2
    elif o == "--timeout": timeout = float(options[i + 1]); i += 2
    elif o == "--expect": answers.append([options[i + 1], options[i + 3], False]); i += 4
    else: sys.exit("unknown option " + o)

master, slave = pty.openpty()
proc = subprocess.Popen(command, stdin=slave if tty_stdin else subprocess.PIPE, stdout=subprocess.PIPE,
                        stderr=slave, close_fds=True)
os.close(slave)
if not tty_stdin:
    proc.stdin.write(stdin_text.encode()); proc.stdin.close()
seen, out = b"", b""
deadline = time.time() + timeout
open_fds = {master: "tty", proc.stdout.fileno(): "out"}
while open_fds and time.time() < deadline:
    ready, _, _ = select.select(list(open_fds), [], [], 0.1)
    for fd in ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            del open_fds[fd]; continue
        if open_fds[fd] == "tty": seen += chunk
        else: out += chunk
    for answer in answers:
        if not answer[2] and answer[0].encode() in seen:
            os.write(master, answer[1].encode()); answer[2] = True
    if proc.poll() is not None and proc.stdout.fileno() not in open_fds:
        # drain what is left on the terminal, then stop
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk: break
            seen += chunk
        break
if proc.poll() is None:
    proc.kill()
status = proc.wait()
print(json.dumps({"status": status, "stdout": out.decode("utf-8", "replace"), "tty": seen.decode("utf-8", "replace")}))
