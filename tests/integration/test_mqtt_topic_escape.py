"""mqtt.topic_escape on a real mosquitto (docs/mqtt.md, "Escaped topics"): two gateways, each
with its own simulated fire panel, raise the same fire alarm in zone 3; hall-v1 keeps the
default ("none"), hall-esc has "percent"; an emulated hall speaks the escaped form too
(hall_emulator.py --topic-escape percent). Then:
- hall-v1's topics are the v1 ones byte for byte (alert/facp1.zone-3.fire);
- hall-esc publishes the same topics with every '.' of a level as %2E
  (alert/facp1%2Ezone-3%2Efire) and none with a dot; decoded, its topics are hall-v1's;
- payloads keep the plain ids;
- the county (one instance, MQTT v5 on mosquitto) decodes: each hall has exactly one open P1
  alert (not one under the escaped id from the retained message and one under the plain id
  from the event); cleared, the retained state says so and the county sees the fire over."""

import os

from county_util import County, Emulator, county_config
from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

ROOT = "hallwatch/v1/"
AID = "facp1.zone-3.fire"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def unescape(t):
    return t.replace("%2E", ".").replace("%25", "%")


def topics_of(watch, site):
    prefix = ROOT + site + "/"
    with watch.lock:
        return {tp[len(prefix):] for _, tp, p, _ in watch.msgs if tp.startswith(prefix)}


def hall(env, mq, site, esc):
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    state = os.path.join(env.tmp, site)
    os.makedirs(state)
    cfg = gateway_config(
        site, mqtt_port=mq.port, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        extra_mqtt='topic_escape = "%s";' % esc if esc else "", state_dir=state)
    return sim, Gateway(env, cfg, name=site)


def main(env):
    mq = Mosquitto(env)
    watch = Watch(mq.port)
    pic = os.path.join(env.tmp, "picture.json")
    county = County(env, county_config(os.path.join(env.tmp, "county.cfg"), mq.port,
                                       os.path.join(env.tmp, "county-state"), pic,
                                       heartbeat_s=1, grace=10.0), pic)
    sim_v1, gw_v1 = hall(env, mq, "hall-v1", None)
    sim_esc, gw_esc = hall(env, mq, "hall-esc", "percent")
    emu = Emulator(env, mq.port, 1, extra=["--prefix", "emu-", "--topic-escape", "percent",
                                          "--heartbeat", "1"])
    for sim in (sim_v1, sim_esc):
        sim.set(1, "input", 103, 1)
    emu.cmd("fire emu-0001")
    v1 = watch.wait_json(ROOT + "hall-v1/alert/" + AID, lambda j: j["state"] == "unack", 10,
                         "hall-v1's alert/%s" % AID)
    esc = watch.wait_json(ROOT + "hall-esc/alert/facp1%2Ezone-3%2Efire",
                          lambda j: j["state"] == "unack", 10,
                          "hall-esc's alert/facp1%2Ezone-3%2Efire")
    expect(v1["id"] == AID and esc["id"] == AID, "payload ids: %r %r" % (v1["id"], esc["id"]))
    expect(watch.json(ROOT + "hall-esc/alert/" + AID) is None,
           "hall-esc published the v1 alert topic")

    # The same topics, escaped or not, once both halls have published their state.
    wait_until(lambda: {"status", "events", "device/facp1/state"} <= topics_of(watch, "hall-esc")
               and {"status", "events", "device/facp1/state"} <= topics_of(watch, "hall-v1"),
               10, "status, events and the device state of both halls")
    t_v1, t_esc = topics_of(watch, "hall-v1"), topics_of(watch, "hall-esc")
    expect("alert/" + AID in t_v1, "hall-v1's topics: %r" % sorted(t_v1))
    expect(not any("." in t for t in t_esc), "a dot in hall-esc's topics: %r" % sorted(t_esc))
    expect({unescape(t) for t in t_esc} == t_v1,
           "hall-esc's topics decoded %r, hall-v1's %r" % (sorted(t_esc), sorted(t_v1)))
    expect(ROOT + "emu-0001/alert/facp1%2Ezone-3%2Efire" in
           {tp for _, tp, _, _ in watch.msgs}, "the emulator's escaped alert topic")

    # The county decodes: one open P1 alert per hall, under its v1 id.
    for site in ("hall-v1", "hall-esc", "emu-0001"):
        county.wait_hall(site, lambda h: h["fire"] and h["alerts"]["open"] == 1
                         and h["alerts"]["by_priority"]["1"] == 1, 10,
                         "%s on fire with one open P1 alert in the county's picture" % site)

    # Cleared: the retained alert/<id> says so in both forms, and the county sees the fire
    # over (the decoded retained state and the event name the same alert).
    for sim in (sim_v1, sim_esc):
        sim.set(1, "input", 103, 0)
    for site, topic in (("hall-v1", AID), ("hall-esc", "facp1%2Ezone-3%2Efire")):
        watch.wait_json(ROOT + site + "/alert/" + topic, lambda j: j["active"] is False, 10,
                        "%s's alert/%s cleared" % (site, topic))
        county.wait_hall(site, lambda h: not h["fire"], 10, "%s's fire over" % site)
    emu.stop()
    for gw in (gw_v1, gw_esc):
        gw.stop()
        expect(gw.proc.p.returncode == 0, "%s exit code %s" % (gw.name, gw.proc.p.returncode))
    county.stop()
    watch.close()


if __name__ == "__main__":
    run(main)
