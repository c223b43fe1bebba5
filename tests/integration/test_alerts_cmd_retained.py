"""A retained command is never obeyed (issue 10, item 5c). An operator's cmd/ack published
with the retain flag while the gateway is down stays on the broker; at the gateway's next
start the broker hands it over again: it must not acknowledge the alert, and the gateway
logs once that it ignored it. A live command published with retain is ignored as well
(the v5 subscription keeps the flag), and an ordinary command still works."""

import signal

from alerts_util import Checks, Operator, Publisher, count, events
from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-retained"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-2.fault"
ATOPIC = ROOT + "alert/" + AID


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "4"])
    watch = Watch(broker.port)
    gw = Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp) + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    sim.set(1, "input", 102, 2)  # zone 2 fault: a P3 alert
    watch.wait_json(ATOPIC, lambda j: j["state"] == "unack", 5, "the P3 alert")
    op = Operator(broker.port, ROOT)
    pub = Publisher(broker.port)
    chk = Checks()

    # The gateway stops; a retained ack waits on the broker.
    gw.stop()
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "offline", 10, "status offline")
    pub.publish(ROOT + "cmd/ack", {"id": AID}, user="alice",
                response_topic=op.reply_topic, corr=b"retained", retain=True)
    n_online = count(watch, ROOT + "status")
    gw.start()
    # status online comes after the cmd/+ subscription on the same connection, so the
    # retained ack was handed over before the list below
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")
    wait_until(lambda: count(watch, ROOT + "status") > n_online, 10, "a new status")
    r = op.send("list", {}, user="alice")
    chk.expect(r["ok"] is True, "list reply %r" % r)
    chk.expect([a["state"] for a in r.get("alerts", []) if a["id"] == AID] == ["unack"],
               "the retained ack was obeyed at start: %r" % r.get("alerts"))
    chk.expect(not any(e.get("event") == "acked" for e in events(watch, ROOT)),
               "an acked event after the restart")
    log = gw.proc.stderr_text()
    chk.expect(log.count("ignoring the retained message on " + ROOT + "cmd/ack") == 1,
               "the ignored retained command is not logged once:\n%s" % log[-2000:])

    # A live command published with retain: ignored too, and not logged again.
    pub.publish(ROOT + "cmd/ack", {"id": AID}, user="alice",
                response_topic=op.reply_topic, corr=b"live-retained", retain=True)
    r = op.send("list", {}, user="alice")
    chk.expect([a["state"] for a in r.get("alerts", []) if a["id"] == AID] == ["unack"],
               "a live retained ack was obeyed: %r" % r.get("alerts"))
    chk.expect(gw.proc.stderr_text().count("ignoring the retained message") == 1,
               "the retained command is logged more than once per topic")

    # Clear the retained message; an ordinary ack is obeyed.
    pub.publish(ROOT + "cmd/ack", b"", retain=True)
    r = op.send("ack", {"id": AID}, user="alice")
    chk.expect(r["ok"] is True and r["alert"]["state"] == "acked", "ack reply %r" % r)

    # A second restart: nothing is replayed any more.
    gw.stop(signal.SIGTERM)
    gw.start()
    watch.wait_json(ROOT + "status", lambda j: j["state"] == "online", 10, "status online")
    op.send("list", {}, user="alice")
    chk.expect("ignoring the retained message" not in gw.proc.stderr_text(),
               "a cleared retained message was seen again")
    pub.close()
    op.close()
    watch.close()
    rc = gw.stop()
    chk.expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    chk.done()


if __name__ == "__main__":
    run(main)
