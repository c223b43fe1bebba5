"""The broker is the authentication, the user property only attribution (docs/commands.md).
A real mosquitto runs the shipped etc/mosquitto/mosquitto.conf.example with the shipped
acl.example and passwd.example (copied into the test folder), and the gateway logs in with
its own account (gw-hall-1):
- an anonymous client is refused by the broker;
- the dashboard account, which the ACL lets read but not publish, cannot command the
  gateway at all, even writing the user property of an operator: its cmd/ack never reaches
  the gateway (no log line, no event, no reply) and the alert stays unacknowledged;
- the operator account can: its ack is obeyed, recorded and answered;
- what the operator's account claims is attribution only: alice's account claiming to be
  bob is refused with the sentence '"bob" is not in alerts.operators';
- cmd/clock reads the real clock, and moving it is refused (not_allowed, naming
  HALLWATCH_TEST_CLOCK) in a gateway started without the test switch."""

import json
import os
import shutil
import threading
import time
import uuid

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from alerts_util import Checks, events
from harness import (SRC, Gateway, Mosquitto, Sim, TestFailure, Watch, free_port,
                     gateway_config, run, wait_until)

SITE = "hall-1"  # the site of the shipped ACL
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-2.fault"
ATOPIC = ROOT + "alert/" + AID
PASSWORDS = {"gw-hall-1": "gw-hall-1-example", "alice": "alice-example",
             "dashboard": "dashboard-example"}  # as documented in docs/commands.md


class AclBroker(Mosquitto):
    """mosquitto with the shipped configuration snippet, ACL and password file."""

    def __init__(self, env):
        self.env = env
        self.port = free_port()
        etc = os.path.join(SRC, "etc", "mosquitto")
        acl = os.path.join(env.tmp, "hallwatch.acl")
        pw = os.path.join(env.tmp, "hallwatch.passwd")
        shutil.copy(os.path.join(etc, "acl.example"), acl)
        shutil.copy(os.path.join(etc, "passwd.example"), pw)
        os.chmod(pw, 0o600)
        with open(os.path.join(etc, "mosquitto.conf.example")) as f:
            conf = f.read()
        conf = (conf.replace("listener 1883", "listener %d 127.0.0.1" % self.port)
                .replace("/etc/mosquitto/hallwatch.passwd", pw)
                .replace("/etc/mosquitto/hallwatch.acl", acl))
        if "listener %d" % self.port not in conf or pw not in conf or acl not in conf:
            raise TestFailure("mosquitto.conf.example changed shape:\n" + conf)
        # test-only: no persistence, a log file, and root can read the root-owned files
        conf += "persistence false\nlog_type all\nlog_dest file %s\nuser root\n" % os.path.join(
            env.tmp, "mosquitto.log")
        self.conf = os.path.join(env.tmp, "mosquitto-acl.conf")
        with open(self.conf, "w") as f:
            f.write(conf)
        self.start()


class AuthWatch(Watch):
    """The test's subscriber, logged in as an account."""

    def __init__(self, port, user, topic):
        self.lock = threading.Lock()
        self.msgs = []
        self.latest = {}
        self.c = paho.Client(client_id="hw-watch-%d" % os.getpid(), clean_session=True)
        self.c.username_pw_set(user, PASSWORDS[user])
        self.c.on_message = self._on_message
        self.connected = threading.Event()
        self.c.on_connect = lambda c, u, f, rc: (rc == 0 and c.subscribe(topic, qos=1),
                                                 rc == 0 and self.connected.set())
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        if not self.connected.wait(10):
            raise TestFailure("test subscriber could not log in as %s" % user)


class Account:
    """An MQTT v5 client logged in as an account (or anonymous), replies on
    <root>reply/<client id> as the ACL's pattern allows."""

    def __init__(self, port, user):
        self.cid = "hw-%s-%s" % (user or "anon", uuid.uuid4().hex[:8])
        self.reply_topic = ROOT + "reply/" + self.cid
        self.replies = {}
        self.lock = threading.Lock()
        self.result = None
        self.ready = threading.Event()
        self.c = paho.Client(client_id=self.cid, protocol=paho.MQTTv5)
        if user:
            self.c.username_pw_set(user, PASSWORDS[user])
        self.c.on_connect = self._on_connect
        self.c.on_subscribe = lambda *a: self.ready.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()

    def _on_connect(self, c, u, flags, rc, props=None):
        self.result = rc
        if rc == 0:
            c.subscribe(self.reply_topic, qos=1)
        else:
            self.ready.set()

    def _on_message(self, c, u, m):
        corr = getattr(m.properties, "CorrelationData", None)
        with self.lock:
            self.replies[bytes(corr) if corr else None] = json.loads(m.payload.decode())

    def publish(self, verb, body, user):
        corr = uuid.uuid4().hex.encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = self.reply_topic
        props.CorrelationData = corr
        props.UserProperty = ("user", user)
        payload = body if isinstance(body, str) else json.dumps(body)
        info = self.c.publish(ROOT + "cmd/" + verb, payload, qos=1, properties=props)
        info.wait_for_publish(10)
        return corr

    def send(self, verb, body, user):
        corr = self.publish(verb, body, user)

        def got():
            with self.lock:
                return self.replies.get(corr)
        return wait_until(got, 10, "the reply to cmd/%s" % verb)

    def close(self):
        self.c.loop_stop()
        self.c.disconnect()


def main(env):
    broker = AclBroker(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "4"])
    watch = AuthWatch(broker.port, "dashboard", ROOT + "#")
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp,
        extra_mqtt='username = "gw-hall-1"; password = "%s";' % PASSWORDS["gw-hall-1"])
        + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10,
                    "facp1 online (the gateway logged in with its account)")
    sim.set(1, "input", 102, 2)  # zone 2 fault: a P3 alert
    watch.wait_json(ATOPIC, lambda j: j["state"] == "unack", 5, "the P3 alert")
    chk = Checks()

    # anonymous: refused by the broker
    anon = Account(broker.port, None)
    anon.ready.wait(10)
    chk.expect(anon.result not in (None, 0), "an anonymous client connected: %r" % anon.result)
    print("anonymous login: %s" % anon.result)
    anon.close()

    # the dashboard may read, not publish: its ack (claiming to be alice) never arrives
    dash = Account(broker.port, "dashboard")
    chk.expect(dash.ready.wait(10) and dash.result == 0, "dashboard login %r" % dash.result)
    corr = dash.publish("ack", {"id": AID}, "alice")
    alice = Account(broker.port, "alice")
    chk.expect(alice.ready.wait(10) and alice.result == 0, "alice login %r" % alice.result)
    r = alice.send("list", {}, "alice")  # a round trip after the dashboard's attempt
    chk.expect(r.get("ok") is True and [a["state"] for a in r["alerts"]] == ["unack"],
               "the dashboard's ack changed the alert: %r" % r)
    log = gw.proc.stderr_text()
    chk.expect("command ack" not in log, "the dashboard's ack reached the gateway:\n%s"
               % log[-2000:])
    chk.expect(not any(e.get("event") == "command" and e.get("verb") == "ack"
                       for e in events(watch, ROOT)), "the dashboard's ack is in events")
    chk.expect(dash.replies.get(corr) is None, "the dashboard got a reply %r"
               % dash.replies.get(corr))
    chk.expect((watch.json(ATOPIC) or {}).get("state") == "unack", "alert/%s changed" % AID)
    with open(os.path.join(env.tmp, "mosquitto.log"), errors="replace") as f:
        denied = [l for l in f if "Denied PUBLISH from " + dash.cid in l]
    chk.expect(denied, "the broker did not log denying the dashboard's publish")
    print("broker: %s" % (denied[0].strip() if denied else "-"))

    # the operator's account is attribution-checked like any: claiming bob is refused
    r = alice.send("ack", {"id": AID}, "bob")
    chk.expect(r.get("ok") is False and r.get("error") == "not_authorized" and
               r.get("message") == '"bob" is not in alerts.operators',
               "alice's account claiming bob: %r" % r)
    # refusals a person can read: an unknown verb, a payload that is not JSON, a wrong type
    r = alice.send("foo", {}, "alice")
    # the sentence names every verb, in order (the list grows with the gateway: the core ones
    # must be there)
    msg = r.get("message") or ""
    known = msg.split("; known: ", 1)[1].split(", ") if "; known: " in msg else []
    chk.expect(r.get("error") == "unknown_verb" and msg.startswith('no command "foo"; known: ')
               and known == sorted(known) and len(known) == len(set(known))
               and {"ack", "clip", "clock", "device", "history", "list", "recordings",
                    "shelve", "snapshot", "unshelve"} <= set(known),
               "cmd/foo: %r" % r)
    r = alice.send("ack", "{\"id\":", "alice")
    chk.expect(r.get("error") == "invalid" and
               r.get("message", "").startswith("the payload is not JSON (line 1, column "),
               "a payload that is not JSON: %r" % r)
    r = alice.send("ack", {"id": 2.5}, "alice")
    chk.expect(r.get("error") == "invalid" and r.get("message") == '"id" must be a string',
               "a fraction as id: %r" % r)
    # an integer id (an inspection record's) is read as its text: no such alert here
    r = alice.send("ack", {"id": 3}, "alice")
    chk.expect(r.get("error") == "unknown_alert", "an integer as id: %r" % r)
    # and as herself her ack is obeyed, recorded and answered
    r = alice.send("ack", {"id": AID}, "alice")
    chk.expect(r.get("ok") is True and r.get("alert", {}).get("state") == "acked",
               "alice's ack: %r" % r)
    try:
        wait_until(lambda: any(e.get("event") == "command" and e.get("verb") == "ack" and
                               e.get("by") == "alice" and e.get("result") == "accepted"
                               for e in events(watch, ROOT)), 5, "alice's ack in events")
    except TestFailure as e:
        chk.expect(False, str(e))
    # the test clock (docs/inspections.md): an operator reads it, but no one moves it in a
    # gateway started without HALLWATCH_TEST_CLOCK
    r = alice.send("clock", {}, "alice")
    chk.expect(r.get("ok") is True and r.get("test") is False and r.get("offset_ms") == 0
               and abs(r.get("now", 0) - time.time() * 1000) < 10000,
               "cmd/clock read on the real clock: %r" % r)
    for body in ({"advance_ms": 3600000}, {"set_ms": int(time.time() * 1000) + 86400000}):
        r = alice.send("clock", body, "alice")
        chk.expect(r.get("ok") is False and r.get("error") == "not_allowed" and
                   "HALLWATCH_TEST_CLOCK" in r.get("message", ""),
                   "cmd/clock %r without the switch: %r" % (body, r))
    r = alice.send("clock", {}, "alice")
    chk.expect(r.get("offset_ms") == 0, "the clock moved after all: %r" % r)
    chk.expect(dash.replies.get(corr) is None, "the dashboard got a reply after all")
    dash.close()
    alice.close()
    watch.close()
    rc = gw.stop()
    chk.expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    chk.done()


if __name__ == "__main__":
    run(main)
