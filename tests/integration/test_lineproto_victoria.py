"""hallwatch's line protocol output against VictoriaMetrics instead of InfluxDB.

The gateway is configured as for InfluxDB 1.x (influx.url, database) and pointed at a real
VictoriaMetrics on loopback. Checked by querying VictoriaMetrics back (/api/v1/export):
- device points: mains_voltage with its scaled value, then its new value after a change;
  zone[3].fire as a flag 0 then 1 (InfluxDB booleans arrive as 0/1);
- the gateway's heartbeat lines: beat 1..N of the run, none missing, none twice, and
  lp_dropped 0 in each;
- the names: <measurement>_<field>, the tags as labels, plus the label db from ?db=.
The differences from InfluxDB are printed as figures (docs/lineproto.md)."""

from harness import Gateway, Mosquitto, Sim, TestFailure, gateway_config, run, wait_until
from victoria_util import Victoria

SITE = "hall-vm"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    vm = Victoria(env)
    broker = Mosquitto(env)  # the heartbeat (mqtt.heartbeat_s) paces the gateway lines
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--zones", "8"])
    sim.set(1, "input", 6, 2213)  # mains 221.3 V
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, influx_url=vm.url, heartbeat=1,
        buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 200, "life_check_s": 0}],
        state_dir=env.tmp)
    gw = Gateway(env, cfg)

    mains = '{__name__="device_point_value",site="%s",device="facp1",point="mains_voltage"}' % SITE
    wait_until(lambda: 221.3 in vm.values(mains), 20, "mains_voltage 221.3 in VictoriaMetrics")
    sim.set(1, "input", 6, 2345)
    wait_until(lambda: vm.values(mains)[-1:] == [234.5], 20, "mains_voltage 234.5 in VictoriaMetrics")

    fire = '{__name__="device_point_flag",site="%s",device="facp1",point="zone[3].fire"}' % SITE
    wait_until(lambda: 0 in vm.values(fire), 20, "zone[3].fire = 0 in VictoriaMetrics")
    sim.set(1, "input", 103, 1)  # fire in zone 3
    wait_until(lambda: vm.values(fire)[-1:] == [1], 20, "zone[3].fire = 1 in VictoriaMetrics")

    beat = '{__name__="gateway_beat",site="%s"}' % SITE
    wait_until(lambda: len(vm.values(beat)) >= 4, 20, "4 heartbeat lines in VictoriaMetrics")
    series = vm.export(beat)
    expect(series[0]["metric"].get("db") == "hallwatch",
           "no label db=hallwatch from ?db= on %r" % series[0]["metric"])
    gw.stop()
    expect(gw.proc.p.returncode == 0, "gateway exit code %s" % gw.proc.p.returncode)

    # Everything the gateway wrote up to its stop: the last beats arrive with the flush at exit.
    beats = [int(v) for v in vm.values(beat)]
    expect(beats == list(range(1, len(beats) + 1)),
           "gateway beats in VictoriaMetrics are not 1..N: %r" % beats)
    dropped = vm.values('{__name__="gateway_lp_dropped",site="%s"}' % SITE)
    expect(dropped and all(v == 0 for v in dropped), "lp_dropped: %r" % dropped)
    started = vm.values('{__name__="gateway_started_ms",site="%s"}' % SITE)
    expect(len(set(started)) == 1 and len(started) == len(beats),
           "started_ms of the beats: %r" % started)

    # Differences from InfluxDB, as figures for the docs.
    quality = vm.values('{__name__="device_point_quality",site="%s",device="facp1",'
                        'point="mains_voltage"}' % SITE)
    bad = vm.write("this is not line protocol\n")
    print("victoria-metrics: ready in %.2f s; %d beats, %d mains values; string field quality "
          "stored as %r; a malformed line answered HTTP %d (InfluxDB: 400)"
          % (vm.startup_s, len(beats), len(vm.values(mains)), sorted(set(quality)), bad))


if __name__ == "__main__":
    run(main)
