"""Helpers of the alert integration tests: an MQTT v5 operator client with request/response,
the event log as seen by a subscriber, and the gateway's SQLite file."""

import json
import os
import sqlite3
import threading
import uuid

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from harness import TestFailure, wait_until


class Operator:
    """An MQTT v5 client sending cmd/<verb> with a response topic and correlation data."""

    def __init__(self, port, root, name="op", reply_prefix=None):
        self.root = root
        self.replies = {}
        self.lock = threading.Lock()
        self.reply_topic = (reply_prefix or root + "reply/") + "test-" + uuid.uuid4().hex[:8]
        self.c = paho.Client(client_id="hw-op-%s-%d" % (name, os.getpid()), protocol=paho.MQTTv5)
        self.subscribed = threading.Event()
        self.c.on_message = self._on_message
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_connect = lambda c, u, f, rc, p=None: c.subscribe(self.reply_topic, qos=1)
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.subscribed.wait(10):
            raise TestFailure("operator client could not subscribe")

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        with self.lock:
            self.replies[bytes(corr) if corr else None] = json.loads(m.payload.decode())

    def send(self, verb, body, user=None, timeout=10):
        corr = uuid.uuid4().hex.encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = corr
        if user is not None:
            props.UserProperty = ("user", user)
        self.c.publish(self.root + "cmd/" + verb, json.dumps(body), qos=1, properties=props)

        def got():
            with self.lock:
                return self.replies.get(corr)
        return wait_until(got, timeout, "the reply to cmd/%s" % verb)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


class Checks:
    """Assertions that are collected rather than fatal, so that one run reports every
    point that does not hold; done() fails the test if any did not."""

    def __init__(self):
        self.failed = []

    def expect(self, cond, msg):
        if not cond:
            print("CHECK FAILED: %s" % msg)
            self.failed.append(msg)
        return bool(cond)

    def done(self):
        if self.failed:
            raise TestFailure("%d check(s) failed:\n  %s" % (len(self.failed),
                                                             "\n  ".join(self.failed)))


class Publisher:
    """An MQTT client that publishes exactly what a test gives it (v5 properties or none,
    the retain flag) at QoS 1 and returns once the broker has it (PUBACK)."""

    def __init__(self, port, protocol=paho.MQTTv5, name="pub"):
        self.protocol = protocol
        self.connected = threading.Event()
        self.c = paho.Client(client_id="hw-%s-%d-%s" % (name, os.getpid(), uuid.uuid4().hex[:6]),
                             protocol=protocol)
        self.c.on_connect = lambda *a: self.connected.set()
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise TestFailure("publisher could not connect")

    def publish(self, topic, payload, user=None, response_topic=None, corr=None, retain=False):
        props = None
        if self.protocol == paho.MQTTv5:
            props = Properties(PacketTypes.PUBLISH)
            if response_topic is not None:
                props.ResponseTopic = response_topic
            if corr is not None:
                props.CorrelationData = corr
            if user is not None:
                props.UserProperty = ("user", user)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload)
        info = self.c.publish(topic, payload, qos=1, retain=retain, properties=props)
        info.wait_for_publish(30)
        if not info.is_published():
            raise TestFailure("the broker did not take the message on %s" % topic)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def events(watch, root):
    """Every events message the subscriber got, decoded, in arrival order."""
    with watch.lock:
        return [json.loads(m[2].decode()) for m in watch.msgs if m[1] == root + "events"]


def check_sequence(evs):
    """Sequence numbers 1..N, each exactly once, in order."""
    seqs = [e["seq"] for e in evs]
    if seqs != list(range(1, len(seqs) + 1)):
        raise TestFailure("event sequence not continuous or repeated: %r" % seqs)


def undelivered(state_dir):
    path = os.path.join(state_dir, "hallwatch.db")
    if not os.path.exists(path):
        return None
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        return db.execute("SELECT COUNT(*) FROM alert_event WHERE delivered = 0").fetchone()[0]
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


def wait_delivered(state_dir, timeout=10):
    wait_until(lambda: undelivered(state_dir) == 0, timeout, "every event marked delivered")


def count(watch, topic):
    with watch.lock:
        return sum(1 for m in watch.msgs if m[1] == topic)
