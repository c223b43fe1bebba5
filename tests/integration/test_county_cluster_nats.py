"""A hall and the county on a three-node NATS cluster (nats-server 2.9: JetStream, MQTT 3.1.1
listener, no '.' in topics, no shared subscriptions) when the node of the hall's gateway dies
with fire alarms raised around it (docs/brokers.md, "Clustered brokers").

The gateway (hw-sim fire panel) has mqtt.hosts = [a, b, c] and mqtt.topic_escape = "percent"
(its alert topics are alert/facp1%2Ezone-1%2Efire); the county has mqtt.hosts = [b, c, a] and
share_group = "" (one instance, a plain subscription) and sits on node b. A fire alarm in zone 1
before node a is SIGKILLed, zone 2 right after (while the gateway fails over), zone 4 once the
gateway is back on another node; the county is then stopped, zone 5 raised while it is away,
and it starts again on node c; last, a surprise patrol from the county page (the county's
command over 3.1.1) and the hall's reply. Then:
- the gateway and the county speak MQTT 3.1.1 (the v5 CONNECT is refused) and the gateway's
  session is not cut by the broker (no topic with a dot);
- the county counted every event seq 1..N the gateway wrote (its SQLite) once, in county.db;
  repeats are counted as duplicates, not doubled (the roll-up's fire alarms of the day = 4);
- the county's picture shows the hall on fire with its four open P1 alerts under their v1 ids
  (decoded: no alert counted twice under an escaped and a plain id);
- the county's session resumed on node c (session present) and brought the alarm raised
  while it was down;
- a new subscriber on node c gets every alert/<id> retained, escaped, with the plain id in
  its payload;
- the hall answered the county's command and recorded it with the county operator's name
  (request_id and user in the 3.1.1 payload).
HW_NATS_ESCAPE=none runs the gateway with v1 topics instead (the failure the setting fixes)."""

import json
import os
import sqlite3
import time

from cluster_util import NatsCluster, SessionSub, seq_report
from county_util import County, county_config
from harness import Gateway, Sim, TestFailure, free_port, gateway_config, port_open, run, wait_until
from web_util import Client, hash_password

SITE = "hall-natsc"
ROOT = "hallwatch/v1/%s/" % SITE
ZONES = (1, 2, 4, 5)
OPERATOR, PASSWORD = "olga", "operator-pw-2"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def alert_id(zone):
    return "facp1.zone-%d.fire" % zone


def escaped(aid):
    return aid.replace("%", "%25").replace(".", "%2E")


def county_cfg(env, hosts, state, pic, http_port, pw_hash):
    hl = ", ".join('"127.0.0.1:%d"' % n.mqtt_port for n in hosts)
    return county_config(os.path.join(env.tmp, "county.cfg"), hosts[0].mqtt_port, state, pic,
                         halls_expected=1, heartbeat_s=2, grace=10.0,
                         client_id="hw-county-nats-%d" % os.getpid(),
                         extra_mqtt='hosts = [ %s ]; share_group = ""; '
                                    'keepalive_s = 5;' % hl,
                         extra='  http = { enabled = true; bind = "127.0.0.1"; port = %d; '
                               'users = ( { name = "%s"; role = "operator"; '
                               'password_hash = "%s"; } ); };\n'
                               % (http_port, OPERATOR, pw_hash))


def hears_commands(port):
    """Waits until the gateway answers a cmd/list sent through the node on port, as an
    operator asks again when no answer comes (a command sent while a node still builds the
    gateway's cmd/+ subscription reaches nobody)."""
    rid = "probe-%d" % os.getpid()
    topic = ROOT + "reply/" + rid
    op = SessionSub(port, ROOT, "hw-natsc-op-%d" % os.getpid(), clean=True, topic=topic)
    try:
        for _ in range(8):
            op.c.publish(ROOT + "cmd/list", json.dumps({"request_id": rid}), qos=1)
            try:
                return wait_until(lambda: op.latest("reply/" + rid), 5, "the reply to cmd/list")
            except TestFailure:
                continue
        raise TestFailure("the gateway never answered cmd/list through port %d" % port)
    finally:
        op.close()


def patrol(port):
    """A surprise patrol from the county page (county_command over MQTT 3.1.1: request_id and
    user in the payload): the hall's reply as the page returns it. Asked again, as an
    operator would, when no answer comes (the page waits 10 s here, the county 15 s)."""
    cl = Client(port)
    r, _, js = cl.request("POST", "/api/v1/login", {"user": OPERATOR, "password": PASSWORD})
    expect(r.status == 200, "login: %s %r" % (r.status, js))
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith("hw_county="):
            cl.cookie = v.split(";", 1)[0]
    cl.csrf = js["csrf"]
    for attempt in range(1, 4):
        try:
            r, _, js = cl.request("POST", "/api/v1/halls/%s/patrol" % SITE, {})
        except TimeoutError:
            continue
        expect(r.status == 200, "patrol: %s %r" % (r.status, js))
        if js["reply"].get("error") != "timeout":
            return js["reply"], attempt
    raise TestFailure("no reply to the county's patrol in 3 attempts")


def main(env):
    esc = os.environ.get("HW_NATS_ESCAPE", "percent")
    cluster = NatsCluster(env)
    a, b, c = cluster["a"], cluster["b"], cluster["c"]
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    http_port, pw_hash = free_port(), hash_password(PASSWORD)
    county = County(env, county_cfg(env, [b, c, a], state, pic, http_port, pw_hash), pic)
    hosts = ", ".join('"127.0.0.1:%d"' % n.mqtt_port for n in (a, b, c))
    cfg = gateway_config(
        SITE, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp)
    cfg = cfg.replace("mqtt = { enabled = false; };",
                      'mqtt = { enabled = true; hosts = [ %s ]; heartbeat_s = 1; '
                      'topic_escape = "%s"; reconnect_min_ms = 200; reconnect_max_ms = 2000; };'
                      % (hosts, esc))
    gw = Gateway(env, cfg)
    wait_until(lambda: "connected to broker 127.0.0.1:%d (MQTT 3.1.1)" % a.mqtt_port
               in gw.proc.stderr_text(), 30, "the gateway on node a, MQTT 3.1.1")
    wait_until(lambda: "connected to 127.0.0.1:%d (MQTT 3.1.1" % b.mqtt_port
               in county.proc.stderr_text(), 30, "the county on node b, MQTT 3.1.1")
    # Its subscriptions are JetStream consumers, created one by one in a few seconds: the
    # events are the county's from then on.
    wait_until(lambda: "subscriptions in place on 127.0.0.1:%d" % b.mqtt_port
               in county.proc.stderr_text(), 30, "the county's subscriptions on node b")
    county.wait_hall(SITE, lambda h: h["online"] and h["devices"]["online"] == 1, 30,
                     "the hall online with its panel in the county's picture")

    def counted(zone, timeout, what):
        """Waits until the gateway logged zone's alarm and the county counted that event."""
        seq = wait_until(lambda: raised_seq(env, zone), 20,
                         "the zone %d alarm in the gateway's event log" % zone)
        wait_until(lambda: county_rows(state, "SELECT 1 FROM county_seen WHERE site = ? AND "
                                       "seq = ?", (SITE, seq)), timeout,
                   "the zone %d alarm (seq %d) %s counted by the county" % (zone, seq, what))
        return seq

    # Before: zone 1, in the county's feed (the hall's first fire alarm). The feed says it
    # once, from whichever came first: the event (event "raised") or the alert's retained
    # state (no "event"); on NATS the two topics are separate streams, in no set order.
    sim.set(1, "input", 100 + 1, 1)
    county.wait_feed(lambda j: j.get("type") == "fire" and j.get("id") == alert_id(1)
                     and j.get("event", "raised") == "raised", 20,
                     "the zone 1 fire alarm's event in the county's feed")
    sessions_before = gw.proc.stderr_text().count("connected to broker")

    # During: node a dies, zone 2 goes off while the gateway fails over.
    t_kill = time.monotonic()
    a.kill()
    sim.set(1, "input", 100 + 2, 1)
    wait_until(lambda: "connected to broker 127.0.0.1:%d" % b.mqtt_port in gw.proc.stderr_text()
               or "connected to broker 127.0.0.1:%d" % c.mqtt_port in gw.proc.stderr_text(),
               60, "the gateway on node b or c")
    counted(2, 60, "raised during the failover")
    failover_s = time.monotonic() - t_kill

    # After: zone 4.
    sim.set(1, "input", 100 + 4, 1)
    counted(4, 30, "raised after the failover")

    # The county goes away; zone 5 while it is; it comes back on node c with its session.
    county.stop()
    t_down = time.monotonic()
    sim.set(1, "input", 100 + 5, 1)
    wait_until(lambda: raised_seq(env, 5), 20, "the zone 5 alarm in the gateway's event log")
    county_cfg(env, [c, b], state, pic, http_port, pw_hash)
    county.start()
    wait_until(lambda: "connected to 127.0.0.1:%d (MQTT 3.1.1, session resumed)" % c.mqtt_port
               in county.proc.stderr_text(), 30, "the county's session resumed on node c")
    # Only the session brings it: an event is never retained.
    counted(5, 30, "raised while the county was down,")
    away_s = time.monotonic() - t_down

    # The picture: the hall on fire, four open P1 alerts (not eight: the retained alert/<id>
    # and the events name the same alerts).
    county.wait_hall(SITE, lambda h: h["fire"] and h["worst"] == "fire"
                     and h["alerts"]["open"] == len(ZONES)
                     and h["alerts"]["by_priority"]["1"] == len(ZONES)
                     and h["today"]["fire_alarms"] == len(ZONES), 20,
                     "the hall on fire with %d open P1 alerts in the county's picture"
                     % len(ZONES))

    # Retained: every alert/<id>, escaped, at a new subscriber on node c.
    fresh = SessionSub(c.mqtt_port, ROOT, "hw-natsc-fresh-%d" % os.getpid(), clean=True)
    key = {z: "alert/" + (escaped(alert_id(z)) if esc == "percent" else alert_id(z))
           for z in ZONES}
    want = set(key.values())

    def retained_alerts():
        with fresh.lock:
            got = {tp[len(ROOT):]: json.loads(p.decode()) for _, tp, p, r in fresh.msgs
                   if r and p and tp.startswith(ROOT + "alert/")}
        return got if want <= set(got) else None
    got = wait_until(retained_alerts, 20, "every alert/<id> retained at node c: %s" % sorted(want))
    for z in ZONES:
        body = got[key[z]]
        expect(body.get("id") == alert_id(z) and body.get("active") is True,
               "%s at node c: %r" % (key[z], body))
    expect(not any("." in tp for tp in fresh.topics()),
           "a topic with a dot at node c: %r" % sorted(fresh.topics()))
    fresh.close()

    # A command from the county page reaches the hall and its reply comes back (3.1.1: no
    # response topic; the hall replies on reply/<request_id>), once the gateway hears
    # commands again (its node may refuse cmd/+ while JetStream elects its leaders).
    wait_until(lambda: port_open(http_port), 10, "the county page")
    hears_commands(c.mqtt_port)
    reply, attempts = patrol(http_port)
    expect(reply.get("error") != "timeout" and reply.get("verb") == "patrol"
           and reply.get("request_id", "").startswith("hw-county-nats-"),
           "the hall's reply to the county's patrol: %r" % reply)

    # Every event the gateway wrote, counted once by the county.
    gw.stop()
    expect(gw.proc.p.returncode == 0, "gateway exit code %s" % gw.proc.p.returncode)
    last_seq = db_last_seq(env)
    expect(last_seq >= len(ZONES), "only %d events in the gateway's log" % last_seq)
    # The hall took the county operator's name from the 3.1.1 payload.
    cmds = [e for e in events(env) if e.get("event") == "command" and e.get("verb") == "patrol"]
    expect(1 <= len(cmds) <= attempts and all(e.get("by") == OPERATOR for e in cmds),
           "the patrol command in the hall's event log: %r" % cmds)

    def all_counted():
        seqs = [r[0] for r in county_rows(state, "SELECT seq FROM county_seen WHERE site = ?",
                                          (SITE,))]
        return seqs if set(range(1, last_seq + 1)) <= set(seqs) else None
    seqs = wait_until(all_counted, 20, "every event 1..%d counted in county.db" % last_seq)
    missing, _ = seq_report([{"seq": s} for s in seqs], last_seq)
    expect(not missing and len(seqs) == len(set(seqs)), "county.db: %r" % seqs)
    p = county.picture()  # events and duplicates of this run of the county (since its restart)
    log = gw.proc.stderr_text()
    # With the escape on, the broker never refuses a topic of the gateway (and so never
    # closes its session for one). Sessions are counted, not bounded: a node whose JetStream
    # request times out (4 s, while leaders are elected on a loaded machine) closes its
    # clients too, and that is the broker's, whatever the topics.
    sessions = log.count("connected to broker")
    for name in ("a", "b", "c"):
        refused = [l for l in cluster[name].proc.stderr_text().splitlines()
                   if "not supported for MQTT topics" in l]
        expect(not refused, "node %s refused topics of the gateway:\n%s"
               % (name, "\n".join(refused[:5])))
    print("nats cluster, hall and county: ready in %.1f s; failover (kill to the zone 2 alarm "
          "at the county) %.1f s; county restarted on node c, the zone 5 alarm counted %.1f s "
          "after its stop; %d events, none lost, "
          "%d counted by the county (after its restart: %d counted, %d duplicates); gateway "
          "sessions %d before the kill, %d after; the patrol answered at attempt %d"
          % (cluster.startup_s, failover_s, away_s, last_seq, len(seqs), p["events"],
             p["duplicates"], sessions_before, sessions - sessions_before, attempts))
    county.stop()


def db_last_seq(env):
    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"), timeout=10)
    try:
        return db.execute("SELECT MAX(seq) FROM alert_event").fetchone()[0] or 0
    finally:
        db.close()


def events(env):
    """The gateway's event log (its SQLite), oldest first."""
    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"), timeout=10)
    try:
        return [json.loads(js) for js, in db.execute("SELECT json FROM alert_event ORDER BY seq")]
    finally:
        db.close()


def raised_seq(env, zone):
    """The seq of the event that raised zone's fire alarm in the gateway's log, or None."""
    for e in events(env):
        if e.get("event") == "raised" and e.get("id") == alert_id(zone):
            return e["seq"]
    return None


def county_rows(state, sql, args=()):
    con = sqlite3.connect(os.path.join(state, "county.db"), timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


if __name__ == "__main__":
    run(main)
