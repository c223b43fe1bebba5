"""Logs the journal understands: with JOURNAL_STREAM naming the daemon's stderr (as systemd
sets it), every line opens with its syslog priority <N> and carries no time of its own; with
JOURNAL_STREAM unset, or naming another stream, lines keep the terminal format. The daemon
is run on a state_dir it cannot create (an error after two info lines) and on a broken
configuration (its FILE:LINE errors must be errors in the journal too)."""

import os
import re
import subprocess

from harness import HALLWATCH, PROFILES, TestFailure, run

TERMINAL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (ERROR|WARN |INFO |DEBUG) [\w-]+: ")
JOURNAL = re.compile(r"^<([3467])>(ERROR|WARN |INFO |DEBUG) [\w-]+: ")
PRIO = {"ERROR": "3", "WARN ": "4", "INFO ": "6", "DEBUG": "7"}


def run_daemon(env, name, cfg, journal):
    """Runs `hallwatch run -c cfg` with stderr in a file of its own; journal: True sets
    JOURNAL_STREAM to that file's DEV:INODE, a string sets it to that value, None leaves it
    unset. Returns (exit code, stderr lines)."""
    err_path = os.path.join(env.tmp, name + ".err")
    e = dict(os.environ)
    e.pop("JOURNAL_STREAM", None)
    with open(err_path, "wb") as err:
        st = os.fstat(err.fileno())
        if journal is True:
            e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        elif journal:
            e["JOURNAL_STREAM"] = journal
        r = subprocess.run([HALLWATCH, "run", "-c", cfg], stdout=subprocess.DEVNULL, stderr=err,
                           env=e, timeout=20)
    with open(err_path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if r.returncode != 1:
        raise TestFailure("%s: exit code %d, want 1: %r" % (name, r.returncode, lines))
    if not lines:
        raise TestFailure("%s: nothing logged" % name)
    return lines


def expect_journal(name, lines, want):
    """Every line has a <N> matching its level; want: (priority, text) pairs that must appear."""
    for l in lines:
        m = JOURNAL.match(l)
        if not m:
            raise TestFailure("%s: line without a journal priority: %r" % (name, l))
        if PRIO[m.group(2)] != m.group(1):
            raise TestFailure("%s: priority <%s> on a %s line: %r" % (name, m.group(1), m.group(2), l))
        if re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", l):
            raise TestFailure("%s: a time in a journal line (the journal adds its own): %r" % (name, l))
    for prio, text in want:
        if not any(l.startswith("<%s>" % prio) and text in l for l in lines):
            raise TestFailure("%s: no <%s> line with %r in %r" % (name, prio, text, lines))


def expect_terminal(name, lines):
    for l in lines:
        if not TERMINAL.match(l):
            raise TestFailure("%s: not the terminal format: %r" % (name, l))


def main(env):
    blocker = os.path.join(env.tmp, "a-file")
    with open(blocker, "w") as f:
        f.write("not a directory\n")
    cfg = os.path.join(env.tmp, "statedir.cfg")
    with open(cfg, "w") as f:
        f.write('site = { id = "hall-log"; profile_dir = "%s"; };\n' % PROFILES)
        f.write('mqtt = { port = 1; };\n')
        f.write('storage = { state_dir = "%s/state"; };\n' % blocker)
    broken = os.path.join(env.tmp, "broken.cfg")
    with open(broken, "w") as f:
        f.write('site = { id = "hall-log"; };\nmqtt = { port = 99999; };\n')

    lines = run_daemon(env, "journal", cfg, True)
    print("under the journal:\n  " + "\n  ".join(lines))
    expect_journal("journal", lines, [("6", "starting: site hall-log"),
                                      ("3", "state directory %s/state cannot be locked: Not a directory"
                                       % blocker)])

    lines = run_daemon(env, "journal-config", broken, True)
    print("a broken configuration under the journal:\n  " + "\n  ".join(lines))
    expect_journal("journal-config", lines, [("3", "%s:2: " % broken)])

    lines = run_daemon(env, "terminal", cfg, None)
    print("without JOURNAL_STREAM:\n  " + "\n  ".join(lines))
    expect_terminal("terminal", lines)
    if not any(" ERROR main: state directory " in l for l in lines):
        raise TestFailure("terminal: the state_dir error is missing: %r" % lines)

    # Inherited from a service but stderr goes elsewhere: not the journal's stream.
    st = os.stat(blocker)
    lines = run_daemon(env, "elsewhere", cfg, "%d:%d" % (st.st_dev, st.st_ino))
    expect_terminal("elsewhere", lines)
    lines = run_daemon(env, "garbage", cfg, "not-a-stream")
    expect_terminal("garbage", lines)


if __name__ == "__main__":
    run(main)
