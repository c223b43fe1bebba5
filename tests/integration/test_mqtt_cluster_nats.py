"""A hall on a three-node NATS cluster (nats-server 2.9: JetStream, MQTT 3.1.1 listener) when
the node it is connected to dies (docs/brokers.md, "Clustered brokers").

The gateway has mqtt.hosts = [a, b, c] and is connected to node a (MQTT 3.1.1: NATS refuses
v5); a persistent QoS 1 subscriber sits on node b, a second one on node a. A command is sent
and the mains voltage changes before node a is SIGKILLed, the voltage changes again right
after (while the gateway fails over), and a second command is sent and the voltage changes
once more when the gateway is back on another node. Then:
- the gateway reconnected to b or c by itself (mqtt.hosts);
- both subscribers have every event seq 1..N the gateway wrote (its SQLite), none missing;
  repeats are counted (consumers deduplicate on seq);
- the subscriber of node a resumes its session on node c (session present) and gets what
  was published while it was away;
- a new subscriber on node c gets the retained state: status online, the device state with
  the last voltage;
- commands work over 3.1.1 (request_id, the reply on reply/<request_id>).

No fire alarm here: nats-server 2.9 refuses topic names with a '.' and closes the session
(alert/<id> has them, facp1.zone-3.fire), so the session would be cut every few seconds while
an alert is open; bench/broker_cluster.py shows it, docs/brokers.md says what follows.
test_county_cluster_nats.py raises fire alarms on such a cluster with mqtt.topic_escape."""

import json
import os
import sqlite3
import time

from cluster_util import NatsCluster, SessionSub, seq_report
from harness import Gateway, Sim, TestFailure, gateway_config, run, wait_until

SITE = "hall-nats"
ROOT = "hallwatch/v1/%s/" % SITE


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def mains(sub):
    st = sub.latest("device/facp1/state") or {}
    return st.get("points", {}).get("mains_voltage", {}).get("v")


def command(port, request_id):
    """cmd/list over MQTT 3.1.1 through the node on port; the reply (a dict)."""
    topic = ROOT + "reply/" + request_id
    op = SessionSub(port, ROOT, "hw-nats-op-%s-%d" % (request_id, os.getpid()), clean=True,
                    topic=topic)

    def replied():
        with op.lock:
            got = [p for _, tp, p, _ in op.msgs if tp == topic]
        return json.loads(got[-1].decode()) if got else None
    # As an operator does when no answer comes: ask again (list changes nothing). A command
    # sent while the gateway's subscription is being refused by the node reaches nobody.
    try:
        for attempt in range(1, 7):
            op.c.publish(ROOT + "cmd/list", json.dumps({"request_id": request_id}), qos=1)
            try:
                r = wait_until(replied, 5, "the reply to cmd/list on reply/" + request_id)
                return r, attempt
            except TestFailure:
                continue
        raise TestFailure("no reply to cmd/list on reply/%s after 6 attempts" % request_id)
    finally:
        op.close()


def main(env):
    cluster = NatsCluster(env)
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    sim = Sim(env, facp=(1,), elc=())
    sim.set(1, "input", 6, 2213)
    sub_b = SessionSub(b.mqtt_port, ROOT, "hw-nats-b-%d" % os.getpid())
    sub_a = SessionSub(a.mqtt_port, ROOT, "hw-nats-a-%d" % os.getpid())
    hosts = ", ".join('"127.0.0.1:%d"' % n.mqtt_port for n in (a, b, c))
    cfg = gateway_config(
        SITE, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0, "intervals": {"analog": 100}}],
        state_dir=env.tmp)
    # mqtt.hosts in place of host and port; node a first.
    cfg = cfg.replace("mqtt = { enabled = false; };",
                      "mqtt = { enabled = true; hosts = [ %s ]; heartbeat_s = 1; "
                      "reconnect_min_ms = 200; reconnect_max_ms = 2000; };" % hosts)
    gw = Gateway(env, cfg)
    wait_until(lambda: "connected to broker 127.0.0.1:%d (MQTT 3.1.1)" % a.mqtt_port
               in gw.proc.stderr_text(), 30, "the gateway on node a, MQTT 3.1.1")
    wait_until(lambda: mains(sub_b) == 221.3, 30, "mains 221.3 V at node b")

    # Before: a command through node b.
    r, _ = command(b.mqtt_port, "before")
    expect(r.get("ok") is True, "cmd/list before the failure: %r" % r)

    # Node a dies; the voltage changes while the gateway fails over.
    t_kill = time.monotonic()
    a.kill()
    sim.set(1, "input", 6, 2222)

    def back_online():
        st = [p for tp, p in sub_b.after(t_kill) if tp == ROOT + "status"]
        return st and json.loads(st[-1].decode()).get("state") == "online"
    wait_until(back_online, 60, "the gateway's status online again after node a died")
    failover_s = time.monotonic() - t_kill
    log = gw.proc.stderr_text()
    expect(("connected to broker 127.0.0.1:%d" % b.mqtt_port in log or
            "connected to broker 127.0.0.1:%d" % c.mqtt_port in log),
           "the gateway did not reconnect to node b or c:\n" + log[-2000:])
    wait_until(lambda: mains(sub_b) == 222.2, 30, "mains 222.2 V at node b")

    # After: a command through node c, the voltage again.
    r, attempts = command(c.mqtt_port, "after")
    expect(r.get("ok") is True, "cmd/list after the failover: %r" % r)
    sim.set(1, "input", 6, 2333)
    wait_until(lambda: mains(sub_b) == 233.3, 30, "mains 233.3 V at node b")

    # The subscriber of node a takes its session to node c.
    t_move = time.monotonic()
    sub_a.move(c.mqtt_port)
    expect(sub_a.session_present, "node c did not keep the session of node a's subscriber")
    wait_until(lambda: mains(sub_a) == 233.3, 30,
               "the state published while away, for the subscriber that moved to node c")
    move_s = time.monotonic() - t_move

    # Retained state, read fresh from node c.
    fresh = SessionSub(c.mqtt_port, ROOT, "hw-nats-fresh-%d" % os.getpid(), clean=True)
    wait_until(lambda: mains(fresh) == 233.3, 20, "retained device state (233.3 V) at node c")
    # status is retained once per session: a node that is still electing its JetStream
    # leaders may fail to store it ("unable to store retained message" in its log) and
    # yet acknowledge it. Reported, not asserted (docs/brokers.md).
    status_kept = (fresh.latest("status") or {}).get("state") == "online"

    # Every event the gateway wrote (the audit of both commands), at both subscribers.
    gw.stop()
    expect(gw.proc.p.returncode == 0, "gateway exit code %s" % gw.proc.p.returncode)
    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"))
    last_seq = db.execute("SELECT MAX(seq) FROM alert_event").fetchone()[0] or 0
    db.close()
    expect(last_seq >= 2, "only %s events" % last_seq)
    for name, sub in (("node b", sub_b), ("node a then c", sub_a)):
        wait_until(lambda: not seq_report(sub.events(), last_seq)[0], 20,
                   "every event 1..%d at the subscriber of %s" % (last_seq, name))
    _, dup_b = seq_report(sub_b.events(), last_seq)
    _, dup_a = seq_report(sub_a.events(), last_seq)
    print("nats cluster: ready in %.1f s; failover (kill to status online) %.1f s; session "
          "move %.1f s; %d events, none lost, repeated %d (node b) %d (a then c); retained "
          "status kept: %s; command subscription refused and retried: %s; command after the "
          "failover answered at attempt %d"
          % (cluster.startup_s, failover_s, move_s, last_seq, dup_b, dup_a, status_kept,
             "refused the subscription to cmd/+" in gw.proc.stderr_text(), attempts))
    for s in (sub_b, sub_a, fresh):
        s.close()


if __name__ == "__main__":
    run(main)
