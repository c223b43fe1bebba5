"""A device whose values do not change is still published at least every heartbeat,
with a growing sequence number, and every publication carries the same values."""

from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until)

SITE = "hall-hb"
TOPIC = "hallwatch/v1/%s/device/facp1/state" % SITE


def main(env):
    broker = Mosquitto(env)
    # A tick of an hour: life_check and panel_time do not move during the test.
    sim = Sim(env, facp=(1,), elc=(), extra=["--tick-ms", "3600000"])
    watch = Watch(broker.port)
    Gateway(env, gateway_config(
        SITE, mqtt_port=broker.port, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}], state_dir=env.tmp))
    first = watch.wait_json(TOPIC, lambda j: j["online"], 10, "facp1 online")
    n0 = watch.count(TOPIC)
    # 30 polls happen in 3 s; only heartbeats may publish.
    wait_until(lambda: watch.count(TOPIC) >= n0 + 3, 6, "three heartbeat publications")
    with watch.lock:
        msgs = [m for m in watch.msgs if m[1] == TOPIC]
    import json
    docs = [json.loads(m[2]) for m in msgs]
    seqs = [d["seq"] for d in docs]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        raise TestFailure("sequence numbers not increasing: %r" % seqs)
    vals = [{k: p["v"] for k, p in d["points"].items()} for d in docs[1:]]
    if any(v != vals[0] for v in vals):
        raise TestFailure("values changed although the simulator did not tick")
    span = msgs[-1][0] - msgs[n0 - 1][0] if n0 > 0 else 0
    per = span / (len(msgs) - n0) if len(msgs) > n0 else 0
    print("%d publications, %.2f s apart on average (heartbeat 1 s, poll 100 ms)" % (len(msgs) - n0, per))
    if per < 0.5:
        raise TestFailure("published every %.2f s: unchanged polls are being published" % per)
    if first["points"]["life_check"]["v"] != docs[-1]["points"]["life_check"]["v"]:
        raise TestFailure("life_check moved")
    watch.close()


if __name__ == "__main__":
    run(main)
