"""The console's test bench: a gateway with http enabled on a free loopback port, a fire
panel (unit 1) and an emergency lighting controller (unit 2) in the simulator, a broker, and
one console account per role (passwords hashed by `hallwatch passwd --stdin`), plus a small
HTTP client that sends paths exactly as given and keeps its own cookie."""

import http.client
import json
import subprocess

from harness import HALLWATCH, Gateway, Mosquitto, Sim, Watch, free_port, gateway_config

SITE = "hall-web"
ROOT = "hallwatch/v1/%s/" % SITE
PASSWORDS = {"victor": "viewer-pw-1", "olga": "operator-pw-2", "ingrid": "inspector-pw-3",
             "adam": "admin-pw-4"}
ROLES = {"victor": "viewer", "olga": "operator", "ingrid": "inspector", "adam": "admin"}
FIRE_ID = "facp1.zone-3.fire"


def hash_password(pw):
    r = subprocess.run([HALLWATCH, "passwd", "--stdin"], input=pw + "\n", text=True,
                       capture_output=True, timeout=30, check=True)
    line = r.stdout.strip()
    assert line.startswith('password_hash = "$y$') and line.endswith('";'), line
    return line[len('password_hash = "'):-2]


def make_token():
    r = subprocess.run([HALLWATCH, "passwd", "--token"], text=True, capture_output=True,
                       timeout=30, check=True)
    lines = r.stdout.strip().splitlines()
    token = lines[0].rsplit(" ", 1)[1]
    sha = lines[1].split('"')[1]
    return token, sha


class Bench:
    def __init__(self, env, token_role="operator", language=None, extra_cfg=""):
        self.env = env
        self.broker = Mosquitto(env)
        self.sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8"])
        self.watch = Watch(self.broker.port)
        self.port = free_port()
        users = ", ".join('{ name = "%s"; role = "%s"; password_hash = "%s"; }'
                          % (u, ROLES[u], hash_password(p)) for u, p in PASSWORDS.items())
        self.token, sha = make_token()
        cfg = gateway_config(
            SITE, mqtt_port=self.broker.port, buses=[("tcp0", self.sim.port, 300)],
            devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                      "interval_ms": 100, "life_check_s": 0},
                     {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                      "interval_ms": 200, "life_check_s": 0}],
            state_dir=env.tmp)
        if language:
            cfg = cfg.replace('name = "test hall";', 'name = "test hall"; language = "%s";'
                              % language, 1)
        cfg += extra_cfg
        cfg += ('http = { enabled = true; bind = "127.0.0.1"; port = %d; users = ( %s ); '
                'tokens = ( { name = "script"; role = "%s"; token_sha256 = "%s"; } ); };\n'
                % (self.port, users, token_role, sha))
        self.gw = Gateway(env, cfg)
        self.watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 15,
                             "facp1 online")

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def fire(self, on=True):
        self.sim.set(1, "input", 103, 1 if on else 0)


class Client:
    """One browser's worth of HTTP: a session cookie and its CSRF token."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None, headers=None, raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if self.cookie and "Cookie" not in h:
            h["Cookie"] = self.cookie
        if body is not None and raw is None:
            raw = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if method in ("POST", "PUT", "DELETE") and self.csrf and "X-CSRF-Token" not in h:
            h["X-CSRF-Token"] = self.csrf
        c.request(method, path, body=raw, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            js = json.loads(data) if data and data[:1] in (b"{", b"[") else None
        except ValueError:
            js = None
        return r, data, js

    def login(self, user, pw):
        r, data, js = self.request("POST", "/api/v1/login", {"user": user, "password": pw})
        if r.status == 200:
            for k, v in r.getheaders():
                if k.lower() == "set-cookie" and v.startswith("hw_session="):
                    self.cookie = v.split(";", 1)[0]
            self.csrf = js["csrf"]
        return r, js


class Live:
    """A minimal WebSocket client of /api/v1/live (text frames from the server only)."""

    def __init__(self, port, cookie, origin=None):
        import base64
        import os
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        req = ("GET /api/v1/live HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
               % (port, key))
        if cookie:
            req += "Cookie: %s\r\n" % cookie
        if origin:
            req += "Origin: %s\r\n" % origin
        self.sock.sendall((req + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        self.head, _, self.buf = head.partition(b"\r\n\r\n")
        self.status = int(self.head.split(b" ", 2)[1]) if self.head else 0

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the live feed closed")
            self.buf += chunk

    def next(self, timeout):
        """The next text message as JSON, or None after timeout seconds."""
        import socket
        self.sock.settimeout(timeout)
        try:
            while True:
                self._need(2)
                op, ln = self.buf[0] & 0x0F, self.buf[1] & 0x7F
                off = 2
                if ln == 126:
                    self._need(4)
                    ln, off = int.from_bytes(self.buf[2:4], "big"), 4
                elif ln == 127:
                    self._need(10)
                    ln, off = int.from_bytes(self.buf[2:10], "big"), 10
                self._need(off + ln)
                payload, self.buf = self.buf[off:off + ln], self.buf[off + ln:]
                if op == 1:
                    return json.loads(payload)
                if op == 8:
                    raise EOFError("the live feed closed")
        except socket.timeout:
            return None

    def wait(self, pred, timeout, what):
        import time
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
            m = self.next(left)
            if m is not None and pred(m):
                return m

    def close(self):
        self.sock.close()
