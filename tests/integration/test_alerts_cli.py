"""The operator command line against a running daemon: hallwatch alerts / shelve / ack /
unshelve over MQTT v5 request/response, including a refusal for an identity not allowed."""

import subprocess

from alerts_util import events
from harness import (HALLWATCH, Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config,
                     run)

SITE = "hall-cli"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-2.fault"


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
        state_dir=env.tmp) + 'alerts = { operators = [ "alice" ]; reply_timeout_ms = 5000; };\n')

    def cli(*args):
        p = subprocess.run([HALLWATCH, args[0], "-c", gw.cfg] + list(args[1:]),
                           capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr

    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    sim.set(1, "input", 102, 2)  # zone 2 fault
    watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "unack", 5, "the P3 alert")

    rc, out, err = cli("alerts")
    expect(rc == 0 and AID in out and "P3" in out and "unack" in out, "alerts: %r %r" % (out, err))
    rc, out, err = cli("shelve", AID, "--for", "2h", "--reason", "contractor on site",
                       "--user", "alice")
    expect(rc == 0 and "shelved" in out, "shelve: %r %r" % (out, err))
    a = watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "shelved", 5, "shelved")
    expect(a["shelved"]["by"] == "alice" and a["shelved"]["reason"] == "contractor on site",
           "shelved %r" % a["shelved"])
    rc, out, err = cli("ack", AID, "--user", "bob")
    expect(rc == 1 and "not_authorized" in err, "bob's ack: %r %r" % (out, err))
    rc, out, err = cli("unshelve", AID, "--user", "alice")
    expect(rc == 0 and "unack" in out, "unshelve: %r %r" % (out, err))
    rc, out, err = cli("ack", AID, "--user", "alice")
    expect(rc == 0 and "acked" in out, "ack: %r %r" % (out, err))
    rc, out, err = cli("ack", "no.such.alert", "--user", "alice")
    expect(rc == 1 and "unknown_alert" in err, "unknown ack: %r %r" % (out, err))
    rc, out, err = cli("shelve", AID)
    expect(rc == 2, "shelve without --for/--reason must be a usage error")

    cmds = [(e["verb"], e["by"], e["result"]) for e in events(watch, ROOT)
            if e["event"] == "command" and e["verb"] != "list"]
    expect(cmds == [("shelve", "alice", "accepted"), ("ack", "bob", "refused"),
                    ("unshelve", "alice", "accepted"), ("ack", "alice", "accepted"),
                    ("ack", "alice", "refused")], "command events %r" % cmds)
    watch.close()
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)


if __name__ == "__main__":
    run(main)
