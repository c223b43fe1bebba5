"""hallwatch against an independent Modbus implementation: Debian's pymodbus serving
the fire panel map. The decoded values must match what pymodbus holds, and a change
made in pymodbus must reach MQTT."""

from harness import (Gateway, Mosquitto, PymodbusFacp, TestFailure, Watch, gateway_config, run)

SITE = "hall-pymodbus"
ROOT = "hallwatch/v1/%s/" % SITE


def main(env):
    broker = Mosquitto(env)
    peer = PymodbusFacp(env, zones=12)
    peer.set(1, "input", 6, 2301)   # mains 230.1 V
    peer.set(1, "input", 7, 2712)   # battery 27.12 V
    peer.set(1, "input", 0, 1 << 7)  # system state: mains power fault
    peer.set(1, "discrete", 0, 1)   # a manual call point is active
    watch = Watch(broker.port)
    Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, buses=[("tcp0", peer.port, 500)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 300}], state_dir=env.tmp))

    st = watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"] and
                         j["points"].get("mains_voltage", {}).get("v") is not None, 15, "facp1 state")
    p = st["points"]

    def check(key, want):
        v = p[key]["v"]
        ok = abs(v - want) < 1e-9 if isinstance(want, float) else v == want
        if not ok:
            raise TestFailure("%s = %r, pymodbus holds %r" % (key, v, want))
    check("mains_voltage", 230.1)
    check("battery_voltage", 27.12)
    check("zone_count", 12)
    check("manual_call_point", True)
    check("sounder_active", False)
    check("system_state", 1 << 7)
    if not any(k.startswith("zone[11].") for k in p) or any(k.startswith("zone[12].") for k in p):
        raise TestFailure("zone block does not follow zone_count=12")
    mains_fault = [k for k in p if k in ("mains_power_fault", "mains_fault", "mains_power")]
    if not mains_fault or p[mains_fault[0]]["v"] is not True:
        raise TestFailure("the mains power fault bit (b7) is not decoded: %r" % mains_fault)

    peer.set(1, "input", 100 + 5, 1)  # zone 5 fire
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["points"]["zone[5].fire"]["v"] is True,
                    5, "zone[5].fire from pymodbus")
    watch.close()


if __name__ == "__main__":
    run(main)
