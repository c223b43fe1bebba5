"""Commands the gateway received when a reload replaces its MQTT session (SIGHUP with a
new mqtt.keepalive_s: everything restarts) or when it stops (SIGTERM) are all handled:
each gets its one reply, none is dropped unanswered. The test publishes a burst of cmd/list
requests at QoS 1 while the gateway is stopped (SIGSTOP), waits until the broker has taken
every one (its PUBACK: the broker has routed it to the gateway's subscription), then sends
the signal and SIGCONT: the gateway meets the signal with the burst on its way in (in its
socket, and in the broker's queue behind its receive window). Before mqtt_stop_commands the
ones still queued in the gateway when its session went were dropped without a word: the
requester waited for nothing."""

import json
import os
import signal
import uuid

from alerts_util import Operator
from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from snapshot_util import reply

SITE = "hall-cmdstop"
ROOT = "hallwatch/v1/%s/" % SITE
BURST = 400


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def burst(op, gw, sig):
    """BURST requests cmd/list sent while gw is stopped, each taken by the broker, then sig
    and SIGCONT; their correlation data."""
    os.kill(gw.proc.pid, signal.SIGSTOP)
    corrs = []
    infos = []
    for _ in range(BURST):
        corr = uuid.uuid4().hex.encode()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = op.reply_topic
        props.CorrelationData = corr
        props.UserProperty = ("user", "alice")
        infos.append(op.c.publish(op.root + "cmd/list", json.dumps({}), qos=1, properties=props))
        corrs.append(corr)
    for i in infos:
        i.wait_for_publish(10)
        expect(i.is_published(), "the broker did not take a request of the burst")
    os.kill(gw.proc.pid, sig)
    os.kill(gw.proc.pid, signal.SIGCONT)
    return corrs


def answered(op, corrs):
    return [c for c in corrs if reply(op, c) is not None]


def wait_answered(op, corrs, timeout, what):
    try:
        wait_until(lambda: len(answered(op, corrs)) == len(corrs), timeout, what)
    except TestFailure as e:
        raise TestFailure("%s: %d of %d answered" % (e, len(answered(op, corrs)), len(corrs)))


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=())
    watch = Watch(broker.port)

    def cfg(keepalive):
        return (gateway_config(
            SITE, mqtt_port=broker.port, buses=[("tcp0", sim.port, 300)],
            devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic"}],
            heartbeat=0, state_dir=env.tmp, extra_mqtt="keepalive_s = %d;" % keepalive)
            + 'alerts = { operators = [ "alice" ]; };\n')

    gw = Gateway(env, cfg(30))
    watch.wait_json(ROOT + "status", lambda j: j.get("state") == "online", 10, "the gateway online")
    op = Operator(broker.port, ROOT)
    r = op.send("list", {}, user="alice")
    expect(r.get("ok") is True, "cmd/list: %r" % r)

    # 1. SIGHUP replacing the session, with a burst on its way in.
    n = gw.proc.stderr_text().count("configuration reloaded")
    gw.rewrite(cfg(31))
    corrs = burst(op, gw, signal.SIGHUP)
    wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") > n, 10, "the reload")
    wait_answered(op, corrs, 15, "a reply to each request sent before the reload")
    handed = [l for l in gw.proc.stderr_text().splitlines() if "handed over" in l]
    print("SIGHUP: %d of %d answered; %s" % (len(answered(op, corrs)), BURST,
                                             handed[-1].split("  ")[-1] if handed
                                             else "none waiting at the reload"))
    bad = [reply(op, c) for c in corrs if reply(op, c).get("ok") is not True
           and reply(op, c).get("error") != "cancelled"]
    expect(not bad, "replies neither ok nor cancelled: %r" % bad[:3])
    watch.wait_json(ROOT + "status", lambda j: j.get("state") == "online", 10,
                    "the gateway online again")
    r = op.send("list", {}, user="alice")
    expect(r.get("ok") is True, "cmd/list after the reload: %r" % r)

    # 2. SIGTERM with a burst on its way in: every request answered before the exit.
    corrs = burst(op, gw, signal.SIGTERM)
    try:
        gw.proc.p.wait(15)
    except Exception:
        raise TestFailure("the gateway did not exit within 15 s of SIGTERM")
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r:\n%s" % (rc, gw.proc.stderr_text()[-3000:]))
    wait_answered(op, corrs, 5, "a reply to each request sent before SIGTERM")
    err = gw.proc.stderr_text()
    expect("were not answered" not in err, "the gateway said it dropped commands:\n%s" % err[-2000:])
    print("SIGTERM: %d of %d answered" % (len(answered(op, corrs)), BURST))
    op.close()


if __name__ == "__main__":
    run(main)
