"""A three-node NATS cluster with JetStream and its MQTT listener (Debian's nats-server), on
free loopback ports in the test folder, and MQTT 3.1.1 clients that can move between nodes
keeping their session (docs/brokers.md)."""

import json
import os
import threading
import time

import paho.mqtt.client as paho

from harness import Proc, TestFailure, free_port, wait_until

NATS = "/usr/sbin/nats-server"


class NatsNode:
    def __init__(self, env, name, routes_ports):
        self.env = env
        self.name = name
        self.client_port = free_port()
        self.cluster_port = routes_ports[name]
        self.mqtt_port = free_port()
        self.store = os.path.join(env.tmp, "nats-" + name)
        self.conf = os.path.join(env.tmp, "nats-%s.conf" % name)
        routes = ", ".join("nats-route://127.0.0.1:%d" % p for p in routes_ports.values())
        with open(self.conf, "w") as f:
            # MQTT needs JetStream, and JetStream in a cluster a server_name per node.
            f.write('server_name: %s\nlisten: "127.0.0.1:%d"\n'
                    'jetstream { store_dir: "%s" }\n'
                    'cluster { name: hallwatch, listen: "127.0.0.1:%d", routes: [ %s ] }\n'
                    'mqtt { listen: "127.0.0.1:%d" }\n'
                    % (name, self.client_port, self.store, self.cluster_port, routes,
                       self.mqtt_port))
        self.proc = env.add(Proc("nats-" + name, [NATS, "-c", self.conf], env.tmp))

    def kill(self):
        """SIGKILL by PID: the node dies without a word to its peers or its clients."""
        self.proc.stop(__import__("signal").SIGKILL)


def mqtt_accepts(port, timeout=5.0):
    """Whether the node answers an MQTT 3.1.1 CONNECT with CONNACK 0 (its JetStream
    streams for MQTT are in place): a throwaway clean session."""
    ok = threading.Event()
    c = paho.Client(client_id="hw-probe-%d-%d" % (os.getpid(), port), clean_session=True)
    c.on_connect = lambda c, u, f, rc: ok.set() if rc == 0 else None
    try:
        c.connect("127.0.0.1", port, keepalive=10)
    except OSError:
        return False
    c.loop_start()
    try:
        return ok.wait(timeout)
    finally:
        c.loop_stop()
        try:
            c.disconnect()
        except Exception:
            pass


class NatsCluster:
    def __init__(self, env, names=("a", "b", "c")):
        t0 = time.monotonic()
        routes = {n: free_port() for n in names}
        self.nodes = {n: NatsNode(env, n, routes) for n in names}
        for n in self.nodes.values():
            def ready(n=n):
                if not n.proc.alive():
                    raise TestFailure("nats-server %s exited:\n%s"
                                      % (n.name, n.proc.stderr_text()[-2000:]))
                return mqtt_accepts(n.mqtt_port)
            wait_until(ready, 90, "the MQTT listener of NATS node %s" % n.name, interval=0.2)
        self.startup_s = time.monotonic() - t0

    def __getitem__(self, name):
        return self.nodes[name]


class SessionSub:
    """An MQTT 3.1.1 subscriber with a persistent session (clean_session False) at QoS 1 on
    <root>#, recording (monotonic time, topic, payload, retain); move() takes the session to
    another node the way a client with a list of brokers does."""

    def __init__(self, port, root, client_id, clean=False, topic=None):
        self.root = root
        self.topic = topic or root + "#"
        self.client_id = client_id
        self.clean = clean
        self.lock = threading.Lock()
        self.msgs = []
        self.session_present = None
        self.refused = 0  # subscriptions the broker refused before it took one
        self._connect(port)

    def _connect(self, port):
        connected = threading.Event()
        self.c = paho.Client(client_id=self.client_id, clean_session=self.clean)
        self.c.reconnect_delay_set(1, 2)

        granted = []

        def on_connect(c, u, flags, rc):
            if rc != 0:
                return
            self.session_present = bool(flags.get("session present"))
            if self.session_present:
                granted.append(1)
            connected.set()
        self.c.on_connect = on_connect
        self.c.on_subscribe = lambda c, u, mid, q: granted.append(q[0])
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=5)
        self.c.loop_start()
        if not connected.wait(30):
            self.c.loop_stop()
            raise TestFailure("%s could not connect to port %d" % (self.client_id, port))
        # A NATS node electing its JetStream leaders refuses subscriptions (SUBACK 0x80)
        # for a few seconds: ask again until it takes it.
        deadline = time.monotonic() + 30
        while not granted or granted[-1] >= 128:
            if time.monotonic() > deadline:
                raise TestFailure("%s: port %d refused the subscription to %s: %r"
                                  % (self.client_id, port, self.topic, granted))
            n = len(granted)
            self.c.subscribe(self.topic, qos=1)
            wait_until(lambda: len(granted) > n, 10, "the SUBACK for " + self.topic)
            if granted[-1] >= 128:
                self.refused += 1
                time.sleep(0.5)  # the pace of the retries, not a synchronisation

    def _on_message(self, c, u, m):
        with self.lock:
            self.msgs.append((time.monotonic(), m.topic, m.payload, m.retain))

    def move(self, port):
        """Leaves the dead node's socket behind and resumes the session on port."""
        self.c.loop_stop()
        self._connect(port)

    def events(self):
        with self.lock:
            return [json.loads(p.decode()) for _, tp, p, _ in self.msgs
                    if tp == self.root + "events"]

    def after(self, since):
        with self.lock:
            return [(tp, p) for t, tp, p, _ in self.msgs if t >= since]

    def latest(self, sub):
        with self.lock:
            for _, tp, p, _ in reversed(self.msgs):
                if tp == self.root + sub:
                    return json.loads(p.decode()) if p else None
        return None

    def topics(self):
        with self.lock:
            return {tp for _, tp, p, _ in self.msgs if p}

    def close(self):
        self.c.loop_stop()
        try:
            self.c.disconnect()
        except Exception:
            pass


def seq_report(events, last_seq):
    """(missing seqs, number of repeats) of the events seen against 1..last_seq."""
    seqs = [e["seq"] for e in events]
    missing = sorted(set(range(1, last_seq + 1)) - set(seqs))
    return missing, len(seqs) - len(set(seqs))
