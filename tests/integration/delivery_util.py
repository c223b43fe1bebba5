"""Helpers of the delivery tests: a broker that keeps sessions across restarts, a
subscriber with a persistent session, and reading the gateway's `gateway` points."""

import json
import os
import threading
import time

import paho.mqtt.client as paho

from harness import Mosquitto, Proc, TestFailure, free_port, port_open, wait_until


class PersistentMosquitto(Mosquitto):
    """mosquitto with persistence on: a subscriber's session and its queued QoS 1
    messages survive a restart of the broker (SIGTERM saves them)."""

    def __init__(self, env, extra=""):
        self.env = env
        self.port = free_port()
        self.conf = os.path.join(env.tmp, "mosquitto-%d.conf" % self.port)
        data = os.path.join(env.tmp, "mosquitto-data") + "/"
        os.makedirs(data, exist_ok=True)
        with open(self.conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\n"
                    "persistence_location %s\nautosave_interval 0\nmax_queued_messages 0\n"
                    "log_dest file %s\nuser root\n%s"
                    % (self.port, data, os.path.join(env.tmp, "mosquitto.log"), extra))
        self.start()


class Subscriber:
    """A QoS 1 subscriber on <root>#: a persistent session (clean_session False) that
    reconnects by itself; records (monotonic time, topic, payload) in arrival order."""

    def __init__(self, port, root, client_id):
        self.lock = threading.Lock()
        self.msgs = []
        self.root = root
        self.c = paho.Client(client_id=client_id, clean_session=False)
        self.c.reconnect_delay_set(1, 2)
        self.c.on_message = self._on_message
        self.connected = threading.Event()

        def on_connect(c, u, flags, rc):
            if rc == 0 and not flags.get("session present"):
                c.subscribe(root + "#", qos=1)
            self.connected.set()
        self.c.on_connect = on_connect
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise TestFailure("subscriber could not connect")

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((time.monotonic(), m.topic, m.payload))

    def events(self, since=0.0):
        with self.lock:
            return [json.loads(p.decode()) for t, tp, p in self.msgs
                    if tp == self.root + "events" and t >= since]

    def after(self, since):
        with self.lock:
            return [(tp, p) for t, tp, p in self.msgs if t >= since]

    def latest(self, sub):
        with self.lock:
            for t, tp, p in reversed(self.msgs):
                if tp == self.root + sub and p:
                    return json.loads(p.decode())
        return None

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def panel_and_controller(bus="tcp0"):
    """The devices of the delivery tests: a fire panel polled every 100 ms (unit 1) and an
    emergency lighting controller every 200 ms (unit 2), life check off."""
    return [{"id": "facp1", "bus": bus, "unit": 1, "profile": "facp-generic",
             "interval_ms": 100, "life_check_s": 0},
            {"id": "elc1", "bus": bus, "unit": 2, "profile": "elc-generic",
             "interval_ms": 200, "life_check_s": 0}]


def delivery(sub):
    st = sub.latest("status")
    return st.get("delivery") if st else None


def drained(sub, outputs=("mqtt", "lineproto"), since_ms=0):
    """The outputs hold nothing older than 2 s (line protocol keeps getting fresh lines
    from the heartbeat itself) in a status published at or after since_ms (wall clock)."""
    d = delivery(sub)
    return d is not None and d["t"] >= since_ms and all(
        d[o]["depth"] == 0 or d[o]["oldest_age_s"] <= 2 for o in outputs)


def wall_ms():
    return int(time.time() * 1000)


def check_beats(influx, min_outage_points=0, outage=None):
    """The `gateway` points: per start (started_ms), beats 1..N each exactly once."""
    rows = influx.rows("SELECT beat, started_ms FROM gateway")
    runs = {}
    for r in rows:
        if r.get("beat") is None:
            continue
        runs.setdefault(r["started_ms"], []).append(int(r["beat"]))
    if not runs:
        raise TestFailure("no gateway points in the database")
    for started, beats in runs.items():
        if sorted(beats) != list(range(1, len(beats) + 1)):
            missing = sorted(set(range(1, max(beats) + 1)) - set(beats))
            raise TestFailure("gateway points of the run started at %s: %d points, missing %r"
                              % (started, len(beats), missing[:20]))
    return runs


def stop_sampling(deadline, step, what):
    """A deliberate duration: loops until the monotonic deadline, calling step() at
    each turn (which may check conditions and change devices)."""
    while time.monotonic() < deadline:
        step()
        time.sleep(0.2)
