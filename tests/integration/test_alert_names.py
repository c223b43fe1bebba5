"""Names people understand (issue 12, item 6): a fire in zone 3 of a panel whose zone and
location are named in the configuration raises an alert whose `message` says so in the
site's language (Chinese by default), beside the unchanged machine fields (condition, point,
text); the zone's name is in the device state JSON; a scaled value (elc battery_voltage, raw
2640 x 0.01) goes out rounded to its resolution, 26.4 and not 26.400000000000002, both in the
state JSON and in InfluxDB (line protocol)."""

import json

from alerts_util import events
from harness import (Gateway, Influxd, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)

SITE = "hall-names"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-3.fire"
WANT = "火警：3号防区（二楼东走廊），火灾报警控制器 facp1（一楼消控室）"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    influx = Influxd(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8"])
    watch = Watch(broker.port)
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url=influx.url, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0, "location": "一楼消控室",
                  "names": "@NAMES@"},
                 {"id": "elc1", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=env.tmp)
    cfg = cfg.replace('"@NAMES@"', '( { element = "zone[3]"; name = "二楼东走廊"; } )')
    Gateway(env, cfg)

    st = watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    z3 = st["points"]["zone[3].fire"]
    expect(z3.get("name") == "二楼东走廊", "zone[3].fire in the state JSON: %r" % z3)
    expect(st.get("location") == "一楼消控室", "facp1 location in the state JSON: %r"
           % st.get("location"))

    # Rounded to the resolution (scale 0.01: two decimals), as written in the JSON text.
    el = watch.wait_json(ROOT + "device/elc1/state",
                         lambda j: j["points"]["battery_voltage"]["q"] == "good", 10,
                         "elc1 battery_voltage")
    raw = watch.latest[ROOT + "device/elc1/state"].decode()
    expect('"battery_voltage":{"v":26.4,' in raw,
           "battery_voltage in the state JSON: %s" % raw[raw.find('"battery_voltage"'):][:60])
    expect(el["points"]["mains_voltage"]["v"] == 221.0, "mains_voltage %r"
           % el["points"]["mains_voltage"])

    # The fire alarm: the message in Chinese, the machine fields as before.
    sim.set(1, "input", 103, 1)
    alert = watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "unack", 5, "the P1 alert")
    expect(alert.get("message") == WANT, "alert message %r, want %r" % (alert.get("message"), WANT))
    expect(alert["condition"] == "fire" and alert["point"] == "zone[3].fire"
           and alert["text"] == "fire" and alert["device"] == "facp1", "machine fields %r" % alert)
    ev = wait_until(lambda: [e for e in events(watch, ROOT)
                             if e["event"] == "raised" and e.get("id") == AID], 5, "the raised event")
    expect(ev[0]["alert"].get("message") == WANT, "raised event %r" % ev[0])

    # Line protocol: InfluxDB holds 26.4 itself.
    def in_influx():
        rows = influx.rows("SELECT last(value) FROM device_point WHERE device='elc1' AND "
                           "point='battery_voltage'")
        return rows if rows else None
    rows = wait_until(in_influx, 10, "battery_voltage in InfluxDB")
    expect(rows[0]["last"] == 26.4, "battery_voltage in InfluxDB: %r" % json.dumps(rows))


if __name__ == "__main__":
    run(main)
