"""`hallwatch passwd`: on a terminal it asks twice without echo and prints the yescrypt hash
line (a mismatch or an empty password is refused); --stdin reads one line; --token prints a
token and its SHA-256 line; a hash it prints logs in to a running console."""

import hashlib
import os
import pty
import select
import subprocess
import time

from harness import (HALLWATCH, Gateway, TestFailure, free_port, gateway_config, port_open, run,
                     wait_until)
from web_util import Client


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def on_tty(answers):
    """Runs `hallwatch passwd` on a pseudo-terminal, typing each answer after its prompt.
    Returns (exit status, everything the terminal showed)."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(HALLWATCH, [HALLWATCH, "passwd"])
    shown = b""
    deadline = time.monotonic() + 30
    pending = list(answers)
    given = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, 9)
            raise TestFailure("passwd on a terminal: no end in time: %r" % shown)
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
        # One answer per prompt shown, typed once the prompt is there.
        prompts = shown.count(b"Password: ") + shown.count(b"Again: ")
        while pending and given < prompts:
            os.write(fd, pending.pop(0).encode() + b"\n")
            given += 1
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def main(env):
    rc, shown = on_tty(["tr0ub4dor&3", "tr0ub4dor&3"])
    expect(rc == 0 and 'password_hash = "$y$' in shown, "tty: %s %r" % (rc, shown))
    expect("tr0ub4dor" not in shown, "the password was echoed: %r" % shown)
    line = [x for x in shown.splitlines() if x.startswith("password_hash")][0]
    tty_hash = line.split('"')[1]
    rc, shown = on_tty(["one", "two"])
    expect(rc == 1 and "differ" in shown, "mismatch: %s %r" % (rc, shown))
    rc, shown = on_tty(["", ""])
    expect(rc == 1 and "empty" in shown, "empty: %s %r" % (rc, shown))

    r = subprocess.run([HALLWATCH, "passwd", "--stdin"], input="s3cret\n", text=True,
                       capture_output=True, timeout=30)
    expect(r.returncode == 0 and r.stdout.startswith('password_hash = "$y$'), "stdin: %r" % r)
    h1 = r.stdout.split('"')[1]
    r2 = subprocess.run([HALLWATCH, "passwd", "--stdin"], input="s3cret\n", text=True,
                        capture_output=True, timeout=30)
    expect(r2.stdout.split('"')[1] != h1, "two hashes of one password share a salt")
    r = subprocess.run([HALLWATCH, "passwd", "--stdin"], input="", text=True,
                       capture_output=True, timeout=30)
    expect(r.returncode == 1, "no password: %r" % r)
    r = subprocess.run([HALLWATCH, "passwd", "--token"], text=True, capture_output=True,
                       timeout=30)
    lines = r.stdout.splitlines()
    token = lines[0].rsplit(" ", 1)[1]
    expect(len(token) == 64 and lines[1] == 'token_sha256 = "%s";'
           % hashlib.sha256(token.encode()).hexdigest(), "token: %r" % r.stdout)

    # The hashes log in to a running console.
    port = free_port()
    cfg = gateway_config("hall-passwd", state_dir=env.tmp)
    cfg += ('http = { enabled = true; port = %d; users = ( '
            '{ name = "t"; role = "viewer"; password_hash = "%s"; }, '
            '{ name = "s"; role = "viewer"; password_hash = "%s"; } ); };\n'
            % (port, tty_hash, h1))
    Gateway(env, cfg)
    wait_until(lambda: port_open(port), 10, "the console listening")
    expect(Client(port).login("t", "tr0ub4dor&3")[0].status == 200, "login with the tty hash")
    expect(Client(port).login("s", "s3cret")[0].status == 200, "login with the stdin hash")


if __name__ == "__main__":
    run(main)
