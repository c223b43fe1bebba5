"""Helpers of the county's integration tests: the hall emulator (tests/tools/hall_emulator.py)
driven on its stdin, and a county instance with its feed (stdout JSON lines) and picture file."""

import json
import os
import signal
import sqlite3
import subprocess
import time

from harness import HALLWATCH, PYTHON, SRC, Proc, TestFailure, port_open, wait_until

EMULATOR = os.path.join(SRC, "tests", "tools", "hall_emulator.py")


def json_lines(text):
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


class Emulator:
    def __init__(self, env, port, halls, name="emulator", extra=()):
        self.env = env
        self.proc = env.add(Proc(name, [PYTHON, EMULATOR, "--port", str(port), "--halls", str(halls)]
                                 + list(extra), env.tmp, stdin=subprocess.PIPE))
        self.answers = 0
        wait_until(lambda: self.lines(lambda j: j.get("ready")) or not self.proc.alive(), 120,
                   "the emulator's halls to connect")
        if not self.proc.alive():
            raise TestFailure("emulator exited:\n" + self.proc.stderr_text()[-3000:])
        self.ready = self.lines(lambda j: j.get("ready"))[0]

    def lines(self, pred=lambda j: True):
        return [j for j in json_lines(self.proc.stdout_text()) if pred(j)]

    def cmd(self, line, timeout=30):
        """Sends one command; returns its answer."""
        n = len(self.lines(lambda j: "ok" in j or "error" in j or "stats" in j))
        self.proc.p.stdin.write((line + "\n").encode())
        self.proc.p.stdin.flush()

        def answered():
            a = self.lines(lambda j: "ok" in j or "error" in j or "stats" in j)
            return a[n] if len(a) > n else None
        a = wait_until(answered, timeout, "the emulator to answer %r" % line)
        if "error" in a:
            raise TestFailure("emulator: %s" % a)
        return a

    def stop(self):
        if self.proc.alive():
            try:
                self.proc.p.stdin.close()
            except OSError:
                pass
        self.proc.stop()


def county_config(path, port, state_dir, picture, halls_expected=0, heartbeat_s=60, grace=3.0,
                  client_id="hallwatch-county", extra_mqtt="", extra="", tick_ms=100, flush_s=1,
                  picture_ms=100):
    with open(path, "w") as f:
        f.write("county = {\n  mqtt = { host = \"127.0.0.1\"; port = %d; client_id = \"%s\"; %s };\n"
                "  halls_expected = %d;\n  heartbeat_s = %d;\n  heartbeat_grace = %.1f;\n"
                "  state_dir = \"%s\";\n  picture_file = \"%s\";\n  picture_ms = %d;\n  tick_ms = %d;\n"
                "  flush_s = %d;\n%s};\n"
                % (port, client_id, extra_mqtt, halls_expected, heartbeat_s, grace, state_dir,
                   picture, picture_ms, tick_ms, flush_s, extra))
    return path


class County:
    def __init__(self, env, cfg_path, picture, name="county"):
        self.env = env
        self.cfg = cfg_path
        self.picture_path = picture
        self.name = name
        self.runs = 0
        self.start()

    def start(self):
        self.runs += 1
        self.proc = self.env.add(Proc("%s-%d" % (self.name, self.runs),
                                      [HALLWATCH, "county", "-c", self.cfg], self.env.tmp))
        self.proc.critical = True
        from harness import CRITICAL
        CRITICAL.append(self.proc)

    def stop(self, sig=signal.SIGTERM):
        """Stops it; a SIGTERM must end it cleanly (exit 0: no sanitizer report either)."""
        rc = self.proc.stop(sig)
        if sig == signal.SIGTERM and rc != 0:
            raise TestFailure("%s exited with %s after SIGTERM:\n%s"
                              % (self.name, rc, self.proc.stderr_text()[-3000:]))
        return rc

    def feed(self, pred=lambda j: True):
        return [j for j in json_lines(self.proc.stdout_text()) if pred(j)]

    def wait_feed(self, pred, timeout, what):
        return wait_until(lambda: (self.feed(pred) or [None])[0], timeout, what)

    def picture(self):
        try:
            with open(self.picture_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def hall(self, site):
        p = self.picture()
        if not p:
            return None
        for h in p["halls"]:
            if h["site"] == site:
                return h
        return None

    def wait_hall(self, site, pred, timeout, what):
        def check():
            h = self.hall(site)
            return h if h is not None and pred(h) else None
        return wait_until(check, timeout, what)

    def wait_picture(self, pred, timeout, what):
        def check():
            p = self.picture()
            return p if p is not None and pred(p) else None
        return wait_until(check, timeout, what)

    def report(self, month):
        r = subprocess.run([HALLWATCH, "county", "report", "-c", self.cfg, "--month", month],
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            raise TestFailure("county report failed: %s" % r.stderr.decode())
        return r.stdout.decode()


def db_rows(state_dir, sql):
    con = sqlite3.connect(os.path.join(state_dir, "county.db"), timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def mosquitto_conf(env, name, port, extra=""):
    path = os.path.join(env.tmp, name + ".conf")
    with open(path, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\nuser root\nlog_dest file %s\n%s"
                % (port, os.path.join(env.tmp, name + ".log"), extra))
    return path


def start_mosquitto(env, name, conf, port):
    p = env.add(Proc(name, ["/usr/sbin/mosquitto", "-c", conf], env.tmp))
    wait_until(lambda: port_open(port) or not p.alive(), 10, "%s to listen" % name)
    if not p.alive():
        raise TestFailure("%s exited: %s" % (name, p.stderr_text()))
    return p


def month_now():
    return time.strftime("%Y-%m", time.gmtime())
