"""A hall reaching the county through a mosquitto bridge on its own machine (docs/county.md,
"Topology"): the hall broker bridges `hallwatch/v1/#` out at QoS 1 with cleansession false to
the county broker. The link is cut (the county broker stopped) for HW_LINK_CUT_S seconds
(15 by default; docs/county.md records a run of 180), alarms are raised at the halls during
the cut, the county broker comes back: the county receives every event raised meanwhile,
nothing lost, none twice.

The county here is one instance with a plain subscription to events (share_group ""):
mosquitto 2.0 keeps a persistent session's plain subscriptions across its own restart but
not its shared ones (docs/county.md, "Shared subscriptions"), and the bridge delivers what it
queued as soon as it is back, before the county has subscribed again."""

import os
import time

from county_util import (County, Emulator, county_config, db_rows, mosquitto_conf,
                         start_mosquitto)
from harness import free_port, run, wait_until

HALLS = 3
CUT_S = float(os.environ.get("HW_LINK_CUT_S", "15"))


def main(env):
    pc, ph = free_port(), free_port()
    pdir = os.path.join(env.tmp, "county-broker-db") + "/"
    os.makedirs(pdir)
    cconf = mosquitto_conf(env, "county-broker", pc,
                           "persistence true\npersistence_location %s\nmax_queued_messages 100000\n"
                           % pdir)
    hconf = mosquitto_conf(env, "hall-broker", ph,
                           "persistence false\nmax_queued_messages 100000\n"
                           "connection county\naddress 127.0.0.1:%d\n"
                           "topic hallwatch/v1/# out 1\ncleansession false\n"
                           "remote_clientid bridge-hall-machine\nrestart_timeout 1 2\n"
                           "bridge_protocol_version mqttv311\n" % pc)
    cb = start_mosquitto(env, "county-broker", cconf, pc)
    start_mosquitto(env, "hall-broker", hconf, ph)
    wait_until(lambda: "bridge-hall-machine" in open(os.path.join(env.tmp, "county-broker.log")).read(),
               10, "the bridge to connect")

    state = os.path.join(env.tmp, "county-state")
    pic = os.path.join(env.tmp, "picture.json")
    county = County(env, county_config(os.path.join(env.tmp, "county.cfg"), pc, state, pic,
                                       halls_expected=HALLS, heartbeat_s=3600,
                                       extra_mqtt='share_group = "";'), pic)
    wait_until(lambda: "connected to" in county.proc.stderr_text(), 10, "the county connected")
    emu = Emulator(env, ph, HALLS, extra=["--heartbeat", "2"])
    county.wait_picture(lambda p: p["summary"]["online"] == HALLS, 20,
                        "the halls online through the bridge")
    first = emu.cmd("fire hall-0001")
    county.wait_feed(lambda j: j["type"] == "fire" and j["site"] == "hall-0001", 10,
                     "a fire alarm through the bridge")

    # Cut the link: the county broker stops (its sessions and retained state saved).
    cb.stop()
    wait_until(lambda: "lost the broker" in county.proc.stderr_text(), 10,
               "the county to notice the broker gone")
    t0 = time.monotonic()
    during = [emu.cmd("fire hall-0002"), emu.cmd("alert hall-0003 2")]
    emu.cmd("events * 10")
    during.append(emu.cmd("fire hall-0003 5"))
    sent = emu.cmd("stats")["stats"]["events_sent"]
    # The cut lasts CUT_S: the halls keep publishing heartbeats into the bridge's queue.
    while time.monotonic() - t0 < CUT_S:
        time.sleep(0.5)
        assert emu.proc.alive()
    start_mosquitto(env, "county-broker-2", cconf, pc)

    def counted():
        p = county.picture()
        return p and p["events"] == sent and p["connected"]
    wait_until(counted, 30, "every event raised during the cut counted (sent %d, counted %s)"
               % (sent, (county.picture() or {}).get("events")))
    for d in during:
        if d["ok"] == "fire":
            county.wait_feed(lambda j: j["type"] == "fire" and j["site"] == d["site"]
                             and j.get("seq") == d["seq"], 10,
                             "the fire alarm of %s raised during the cut" % d["site"])
    county.wait_hall("hall-0003", lambda h: h["alerts"]["by_priority"]["2"] == 1 and h["fire"],
                     10, "hall-0003's alerts")
    county.stop()
    rows = db_rows(state, "SELECT site, COUNT(*), MAX(seq) FROM county_seen GROUP BY site")
    per = {s: (n, m) for s, n, m in rows}
    assert sum(n for n, _ in per.values()) == sent, per
    for s, (n, m) in per.items():
        assert n == m, "gaps at %s: %d events up to seq %d" % (s, n, m)
    print("link cut %.0f s: %d events sent, %d counted, first alarm seq %d"
          % (CUT_S, sent, sum(n for n, _ in per.values()), first["seq"]))
    emu.stop()


if __name__ == "__main__":
    run(main)
