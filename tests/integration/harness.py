"""Integration test harness: starts real services on free loopback ports in a
temporary folder and drives the real hallwatch daemon against them.

Every wait polls a condition with a deadline; processes are ended by their own PID."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import paho.mqtt.client as paho

SRC = os.environ.get("HW_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("HW_BUILD") or os.path.join(SRC, "build")
HALLWATCH = os.path.join(BUILD, "hallwatch")
SIM = os.path.join(BUILD, "hw-sim")
PROFILES = os.path.join(SRC, "etc", "profiles")
PYTHON = "/usr/bin/python3"


class TestFailure(AssertionError):
    pass


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Processes whose death ends the test at once (the gateway under test).
CRITICAL = []


def wait_until(cond, timeout, what, interval=0.02):
    """Polls cond() until it returns a true value; fails after timeout seconds, or as
    soon as a critical process has died."""
    deadline = time.monotonic() + timeout
    while True:
        for p in CRITICAL:
            if p.critical and not p.alive():
                raise TestFailure("%s exited (code %s) while waiting for %s:\n%s"
                                  % (p.name, p.p.returncode, what, p.stderr_text()[-2000:]))
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class Proc:
    """A child process with its output in files under the test folder."""

    def __init__(self, name, argv, tmp, stdin=None, env=None):
        self.name = name
        self.critical = False
        self.out_path = os.path.join(tmp, name + ".out")
        self.err_path = os.path.join(tmp, name + ".err")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.p = subprocess.Popen(argv, stdout=self._out, stderr=self._err,
                                  stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                  env=env)

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def send(self, sig):
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            self.critical = False
        if self.alive():
            self.p.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        self.critical = False
        if self.alive():
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self._out.close()
        self._err.close()
        return self.p.returncode

    def stderr_text(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stdout_text(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")


class Env:
    """The test's temporary folder and every process it started; cleaned up at exit."""

    def __init__(self, name):
        self.tmp = tempfile.mkdtemp(prefix="hw-%s-" % name)
        self.procs = []
        self.ok = False

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def close(self):
        for p in reversed(self.procs):
            try:
                p.stop(signal.SIGKILL if not self.ok else signal.SIGTERM)
            except Exception:
                pass
        if self.ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
        else:
            print("test folder kept for inspection: %s" % self.tmp)
            for p in self.procs:
                try:
                    tail = p.stderr_text()[-3000:]
                except Exception:
                    tail = ""
                if tail:
                    print("---- %s stderr (tail) ----\n%s" % (p.name, tail))

    def __enter__(self):
        return self

    def __exit__(self, et, ev, tb):
        self.ok = et is None
        self.close()
        return False


class Mosquitto:
    def __init__(self, env, port=None):
        self.env = env
        self.port = port or free_port()
        self.conf = os.path.join(env.tmp, "mosquitto-%d.conf" % self.port)
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "log_dest file %s\nuser root\n"
                    % (self.port, os.path.join(env.tmp, "mosquitto.log")))
        self.start()

    def start(self):
        self.proc = self.env.add(Proc("mosquitto", ["/usr/sbin/mosquitto", "-c", self.conf], self.env.tmp))
        wait_until(lambda: port_open(self.port) or not self.proc.alive(), 10, "mosquitto to listen")
        if not self.proc.alive():
            raise TestFailure("mosquitto exited: " + self.proc.stderr_text())

    def stop(self):
        self.proc.stop()


class Influxd:
    def __init__(self, env, db="hallwatch"):
        self.env = env
        self.port = free_port()
        self.rpc = free_port()
        d = os.path.join(env.tmp, "influxdb")
        os.makedirs(d, exist_ok=True)
        self.conf = os.path.join(d, "influxdb.conf")
        with open(self.conf, "w") as f:
            f.write('reporting-disabled = true\nbind-address = "127.0.0.1:%d"\n'
                    '[meta]\n  dir = "%s/meta"\n'
                    '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n  query-log-enabled = false\n'
                    '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
                    '[monitor]\n  store-enabled = false\n'
                    '[continuous_queries]\n  enabled = false\n'
                    % (self.rpc, d, d, d, self.port))
        self.db = db
        self.start()
        self.query("CREATE DATABASE %s" % db, post=True)

    def start(self):
        self.proc = self.env.add(Proc("influxd", ["/usr/bin/influxd", "-config", self.conf], self.env.tmp))

        def ready():
            if not self.proc.alive():
                raise TestFailure("influxd exited: " + self.proc.stderr_text()[-2000:])
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/ping" % self.port, timeout=1) as r:
                    return r.status == 204
            except OSError:
                return False
        wait_until(ready, 20, "influxd /ping")

    def stop(self):
        self.proc.stop()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def query(self, q, post=False):
        params = urllib.parse.urlencode({"q": q, "db": self.db})
        url = "%s/query?%s" % (self.url, params)
        req = urllib.request.Request(url, method="POST" if post else "GET")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read().decode())

    def rows(self, q):
        """The rows of the first series of q, as a list of dicts."""
        res = self.query(q)["results"][0]
        out = []
        for s in res.get("series", []):
            cols = s["columns"]
            for v in s["values"]:
                row = dict(zip(cols, v))
                row.update(s.get("tags", {}))
                out.append(row)
        return out


class Sim:
    """The project's Modbus simulator, controlled through its stdin."""

    def __init__(self, env, facp=(1,), elc=(2,), port=0, extra=()):
        self.env = env
        self.args = [SIM, "--bind", "127.0.0.1"]
        if facp:
            self.args += ["--facp", ",".join(str(u) for u in facp)]
        if elc:
            self.args += ["--elc", ",".join(str(u) for u in elc)]
        self.args += list(extra)
        self.port = port
        self.start()

    def start(self):
        argv = self.args + ["--port", str(self.port)]
        self.proc = self.env.add(Proc("hw-sim", argv, self.env.tmp, stdin=subprocess.PIPE))
        self._wait_ready()

    def _wait_ready(self):
        def ready():
            if not self.proc.alive():
                raise TestFailure("simulator exited: " + self.proc.stderr_text())
            for line in self.proc.stdout_text().splitlines():
                if line.startswith("READY port="):
                    return int(line.split("=", 1)[1])
            return None
        self.port = wait_until(ready, 10, "the simulator's READY line")
        self._lines_seen = len(self.proc.stdout_text().splitlines())

    def command(self, cmd):
        self.proc.p.stdin.write((cmd + "\n").encode())
        self.proc.p.stdin.flush()
        n = self._lines_seen

        def answered():
            lines = self.proc.stdout_text().splitlines()
            return lines[n] if len(lines) > n and self.proc.stdout_text().endswith("\n") else None
        line = wait_until(answered, 5, "the simulator's answer to " + cmd)
        self._lines_seen = n + 1
        if not line.startswith("ok"):
            raise TestFailure("simulator refused %r: %s" % (cmd, line))
        return line[2:].strip()

    def set(self, unit, table, addr, value):
        self.command("set %d %s %d %d" % (unit, table, addr, value))

    def get(self, unit, table, addr):
        return int(self.command("get %d %s %d" % (unit, table, addr)))

    def stop(self, sig=signal.SIGTERM):
        self.proc.stop(sig)


class PymodbusFacp(Sim):
    """The independent Modbus peer: Debian's pymodbus serving the fire panel map."""

    def __init__(self, env, zones=8):
        self.env = env
        self.port = free_port()
        self.args = [PYTHON, os.path.join(SRC, "tests", "tools", "pymodbus_facp.py"),
                     "--zones", str(zones)]
        self.start()


class Watch:
    """An MQTT subscriber on the test broker recording every message."""

    def __init__(self, port, topic="hallwatch/#"):
        self.lock = threading.Lock()
        self.msgs = []      # (monotonic time, topic, payload bytes, retain)
        self.latest = {}
        self.c = paho.Client(client_id="hw-test-%d" % os.getpid(), clean_session=True)
        self.c.on_message = self._on_message
        self.connected = threading.Event()
        self.c.on_connect = lambda c, u, f, rc: (c.subscribe(topic, qos=1), self.connected.set())
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise TestFailure("test subscriber could not connect")

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((time.monotonic(), m.topic, m.payload, m.retain))
            self.latest[m.topic] = m.payload

    def json(self, topic):
        with self.lock:
            p = self.latest.get(topic)
        if p is None or p == b"":
            return None
        return json.loads(p.decode())

    def wait_json(self, topic, pred, timeout, what):
        def check():
            j = self.json(topic)
            return j if j is not None and pred(j) else None
        return wait_until(check, timeout, what)

    def count(self, topic):
        with self.lock:
            return sum(1 for m in self.msgs if m[1] == topic)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def cfg_value(v):
    """A Python value as libconfig text: str, bool, int, list of str, dict (a group)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"%s"' % v
    if isinstance(v, (list, tuple)):
        return "[ %s ]" % ", ".join(cfg_value(x) for x in v)
    if isinstance(v, dict):
        return "{ %s }" % " ".join("%s = %s;" % (k, cfg_value(x)) for k, x in v.items())
    return str(v)


def gateway_config(site, mqtt_port=None, influx_url=None, buses=(), devices=(), heartbeat=60,
                   extra_mqtt="", extra_influx="", state_dir="/tmp"):
    """A hallwatch config text. buses: (id, port[, timeout_ms[, pipeline]]); devices: dicts."""
    out = ['site = { id = "%s"; name = "test hall"; profile_dir = "%s"; };' % (site, PROFILES)]
    if mqtt_port:
        out.append('mqtt = { enabled = true; host = "127.0.0.1"; port = %d; heartbeat_s = %d; %s };'
                   % (mqtt_port, heartbeat, extra_mqtt))
    else:
        out.append("mqtt = { enabled = false; };")
    if influx_url:
        if "flush_interval_ms" not in extra_influx:
            extra_influx = "flush_interval_ms = 200; " + extra_influx
        out.append('influx = { enabled = true; url = "%s"; database = "hallwatch"; %s };'
                   % (influx_url, extra_influx))
    else:
        out.append("influx = { enabled = false; };")
    out.append('storage = { state_dir = "%s"; };' % state_dir)
    bl = []
    for b in buses:
        timeout = b[2] if len(b) > 2 else 300
        pipeline = b[3] if len(b) > 3 else 1
        bl.append('{ id = "%s"; type = "tcp"; host = "127.0.0.1"; port = %d; timeout_ms = %d; '
                  'pipeline = %d; }' % (b[0], b[1], timeout, pipeline))
    out.append("buses = ( %s );" % ", ".join(bl))
    dl = []
    for d in devices:
        fields = []
        for k, v in d.items():
            fields.append('%s = %s;' % (k, cfg_value(v)))
        dl.append("{ %s }" % " ".join(fields))
    out.append("devices = ( %s );" % ", ".join(dl))
    return "\n".join(out) + "\n"


class Gateway:
    def __init__(self, env, cfg_text, name="hallwatch", log_level="info"):
        self.env = env
        self.cfg = os.path.join(env.tmp, name + ".cfg")
        with open(self.cfg, "w") as f:
            f.write(cfg_text)
        self.name = name
        self.log_level = log_level
        self.start()

    def start(self):
        self.proc = self.env.add(Proc(self.name, [HALLWATCH, "run", "-c", self.cfg,
                                                  "--log-level", self.log_level], self.env.tmp))
        self.proc.critical = True
        CRITICAL.append(self.proc)

    def rewrite(self, cfg_text):
        with open(self.cfg, "w") as f:
            f.write(cfg_text)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        return self.proc.stop(sig, timeout)


def run(main):
    """Runs a test's main(env) and turns the result into an exit code for CTest."""
    import sys
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    t0 = time.monotonic()
    try:
        with Env(name) as env:
            main(env)
    except Exception as e:  # noqa: BLE001 - report every failure the same way
        import traceback
        traceback.print_exc()
        print("FAIL %s after %.1f s: %s" % (name, time.monotonic() - t0, e))
        sys.exit(1)
    print("PASS %s in %.1f s" % (name, time.monotonic() - t0))
