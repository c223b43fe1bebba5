"""Replies to commands go only under the reply prefix (mqtt.reply_prefix, by default
<root>/<site>/reply/). A v5 request whose response topic is the site's own status, events
or alert/<id>, another site's cmd/ack or a topic elsewhere is refused and not obeyed: a
subscriber to # sees no reply there, the alert is unchanged, the refusal is in events
and in the log. cmd/list needs no operator and is audited. A 3.1.1 request_id reply goes
under the prefix. A reload moves the prefix (the command line follows it), and
check-config refuses a prefix over gateway topics (issue 10, items 5a and 5b)."""

import json
import os
import signal
import subprocess

import paho.mqtt.client as paho

from alerts_util import Checks, Operator, Publisher, events
from harness import (HALLWATCH, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config,
                     run, wait_until)

SITE = "hall-reply"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-2.fault"
ATOPIC = ROOT + "alert/" + AID


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def replies_on(watch, topic):
    """Messages on topic that are command replies (they carry "ok")."""
    out = []
    with watch.lock:
        msgs = [m for m in watch.msgs if m[1] == topic]
    for m in msgs:
        try:
            j = json.loads(m[2].decode())
        except ValueError:
            continue
        if isinstance(j, dict) and "ok" in j:
            out.append(j)
    return out


def config(env, port, sim_port, extra_mqtt=""):
    return gateway_config(
        SITE, mqtt_port=port, buses=[("tcp0", sim_port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp, extra_mqtt=extra_mqtt) + 'alerts = { operators = [ "alice" ]; };\n'


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "4"])
    watch = Watch(broker.port, topic="#")
    gw = Gateway(env, config(env, broker.port, sim.port))
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    sim.set(1, "input", 102, 2)  # zone 2 fault: a P3 alert
    watch.wait_json(ATOPIC, lambda j: j["state"] == "unack", 5, "the P3 alert")
    op = Operator(broker.port, ROOT)
    pub = Publisher(broker.port)
    chk = Checks()

    # 5a: response topics outside the prefix
    forbidden = [ROOT + "status", ROOT + "events", ATOPIC, "hallwatch/v1/hall-other/cmd/ack",
                 "elsewhere/inbox", ROOT + "replyx/1", ROOT + "reply/"]
    for i, t in enumerate(forbidden):
        pub.publish(ROOT + "cmd/ack", {"id": AID}, user="alice", response_topic=t,
                    corr=b"c%d" % i)
    r = op.send("list", {}, user="alice")  # a round trip: the requests above came first
    chk.expect(r["ok"] is True, "list reply %r" % r)
    for t in forbidden:
        chk.expect(replies_on(watch, t) == [], "a reply was published on %s: %r"
               % (t, replies_on(watch, t)))
    chk.expect((watch.json(ATOPIC) or {}).get("state") == "unack",
               "a refused request changed alert/<id>: %r" % watch.json(ATOPIC))
    def refusals():
        return [e for e in events(watch, ROOT)
                if e.get("event") == "command" and e.get("error") == "bad_reply_topic"]
    try:  # events go through the outbox and may trail the list's reply
        wait_until(lambda: len(refusals()) >= len(forbidden), 5, "the refusals in events")
    except TestFailure:
        pass
    refused = refusals()
    chk.expect(sorted(e.get("response_topic") for e in refused) == sorted(forbidden) and
           all(e.get("by") == "alice" and e.get("result") == "refused" and e.get("verb") == "ack"
               for e in refused), "refusal events %r" % refused)
    log = gw.proc.stderr_text()
    chk.expect(log.count("is outside the reply prefix " + ROOT + "reply/") == len(forbidden),
           "refusals in the log:\n%s" % log[-3000:])

    # the same request with a response topic under the prefix is obeyed
    r = op.send("ack", {"id": AID}, user="alice")
    chk.expect(r["ok"] is True and r["alert"]["state"] == "acked", "ack reply %r" % r)

    # 5b: list needs no operator, and is audited
    n_ev = len(events(watch, ROOT))
    r = op.send("list", {})
    chk.expect(r["ok"] is True and [a["id"] for a in r["alerts"]] == [AID], "anonymous list %r" % r)
    try:
        # The ack's own event may reach the subscriber after its reply: look for the list.
        ev = wait_until(lambda: [e for e in events(watch, ROOT)[n_ev:]
                                 if e.get("event") == "command" and e.get("verb") == "list"],
                        5, "the list in events")
    except TestFailure:
        ev = [{}]
    chk.expect(ev[0].get("verb") == "list" and ev[0].get("by", 0) is None and
               ev[0].get("result") == "accepted", "list event %r" % ev)
    chk.expect("command list on - by (nobody)" in gw.proc.stderr_text(), "list not logged")

    # a 3.1.1 client: the reply goes to <prefix><request_id>
    p311 = Publisher(broker.port, protocol=paho.MQTTv311, name="p311")
    p311.publish(ROOT + "cmd/list", {"request_id": "r311"})
    wait_until(lambda: replies_on(watch, ROOT + "reply/r311"), 5, "the 3.1.1 reply")
    p311.publish(ROOT + "cmd/list", {"request_id": "x/../status"})
    r = op.send("list", {}, user="alice")
    chk.expect(all("ok" not in (json.loads(m[2]) if m[2].startswith(b"{") else {})
               for m in list(watch.msgs) if m[1].startswith(ROOT + "reply/x")),
           "a reply went to a request_id that is not one topic level")
    p311.close()

    # a reload moves the prefix; the command line follows it
    try:
        gw.rewrite(config(env, broker.port, sim.port, 'reply_prefix = "ops/%s/";' % SITE))
        n_reload = gw.proc.stderr_text().count("configuration reloaded")
        gw.proc.send(signal.SIGHUP)
        gw.proc.critical = True
        wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") > n_reload, 10,
                   "the reload")
        watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
        op2 = Operator(broker.port, ROOT, name="op2", reply_prefix="ops/%s/" % SITE)
        r = op2.send("list", {}, user="alice")
        chk.expect(r["ok"] is True, "list under the new prefix %r" % r)
        n_ev = len(events(watch, ROOT))
        n_old = len(replies_on(watch, op.reply_topic))
        pub.publish(ROOT + "cmd/list", {}, user="alice", response_topic=op.reply_topic, corr=b"old")
        op2.send("list", {}, user="alice")
        try:  # events go through the outbox and may trail the reply
            wait_until(lambda: any(e.get("error") == "bad_reply_topic"
                                   for e in events(watch, ROOT)[n_ev:]), 5,
                       "the refusal of the old prefix in events")
            refused = True
        except TestFailure:
            refused = False
        chk.expect(len(replies_on(watch, op.reply_topic)) == n_old and refused,
                   "a reply under the old prefix after the reload")
        p = subprocess.run([HALLWATCH, "alerts", "-c", gw.cfg], capture_output=True, text=True,
                           timeout=20)
        chk.expect(p.returncode == 0 and AID in p.stdout, "CLI with reply_prefix: %r %r"
               % (p.stdout, p.stderr))
        op2.close()
    except TestFailure as e:
        chk.expect(False, "reload to a new prefix: %s" % e)

    # check-config: a prefix over gateway topics is an error; one outside them is fine
    path = os.path.join(env.tmp, "good.cfg")
    with open(path, "w") as f:
        f.write(config(env, broker.port, sim.port, 'reply_prefix = "ops/hall/replies/";'))
    p = subprocess.run([HALLWATCH, "check-config", "-c", path], capture_output=True, text=True,
                       timeout=20)
    chk.expect(p.returncode == 0, "check-config refused a good reply_prefix: %r" % p.stderr)
    for bad in [ROOT, "hallwatch/v1/", "hallwatch/v1/hall-other/reply/", ROOT + "alert/",
                "ops/#/", "ops/x", "/ops/"]:
        path = os.path.join(env.tmp, "bad.cfg")
        with open(path, "w") as f:
            f.write(config(env, broker.port, sim.port, 'reply_prefix = "%s";' % bad))
        p = subprocess.run([HALLWATCH, "check-config", "-c", path], capture_output=True,
                           text=True, timeout=20)
        chk.expect(p.returncode != 0 and "mqtt.reply_prefix" in p.stdout + p.stderr,
               "check-config accepted reply_prefix %r: %r %r" % (bad, p.stdout, p.stderr))

    pub.close()
    op.close()
    watch.close()
    rc = gw.stop()
    chk.expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    chk.done()


if __name__ == "__main__":
    run(main)
