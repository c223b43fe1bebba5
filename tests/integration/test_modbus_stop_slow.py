"""SIGTERM and SIGHUP while a device is slow to answer: a stop always finishes cleanly.

One TCP bus (one request in flight) carries a fire panel that answers every request 500 ms
late (under the 1 s timeout: slow, not dead) and an emergency lighting controller that
answers 1.5 s late (dead: every poll of it fails and hands a result to the main loop). The
worker is thus nearly always inside a request when a signal comes, and finishes that request
(delivering its result) after the main loop has stopped waiting for it. Each round starts
the daemon, lets it poll, and sends SIGTERM at a random moment: the daemon must exit 0 within
the bus timeout plus the output flush, log "stopped", publish `status` offline, and the
sanitizer build must report nothing. One more round sends SIGHUP three times at random
moments while the slow device is in flight: the daemon must reload each time, keep
publishing, and stop cleanly at the end."""

import json
import random
import signal
import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-stopslow"
ROOT = "hallwatch/v1/%s/" % SITE
TIMEOUT_MS = 1000
ROUNDS = 4
SANITIZER = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "UndefinedBehaviorSanitizer")


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def config(broker):
    devices = [{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                "interval_ms": 100, "intervals": {"alarm": 100, "detail": 100, "analog": 100}},
               {"id": "elc2", "bus": "tcp0", "unit": 2, "profile": "elc-generic",
                "interval_ms": 200, "offline_after": 1, "backoff_max_ms": 100}]
    return gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                          buses=[("tcp0", broker.sim_port, TIMEOUT_MS, 1)], devices=devices,
                          state_dir=broker.state_dir)


def statuses(watch, t0):
    with watch.lock:
        return [json.loads(m[2].decode()) for m in watch.msgs
                if m[1] == ROOT + "status" and m[0] >= t0 and m[2]]


def states_since(watch, topic, t0):
    with watch.lock:
        return [json.loads(m[2].decode()) for m in watch.msgs
                if m[1] == topic and m[0] >= t0 and m[2]]


def polled_since(watch, topic, t0, polls):
    """The first state of topic received since t0 that is online with `polls` polls."""
    return next((j for j in states_since(watch, topic, t0)
                 if j["online"] and j["health"]["polls"] >= polls), None)


def check_clean(gw, rc, took, what):
    err = gw.proc.stderr_text()
    bad = [l for l in err.splitlines() if any(s in l for s in SANITIZER)]
    expect(not bad, "%s: sanitizer report:\n%s" % (what, err[-4000:]))
    expect(rc == 0, "%s: exit code %s after %.1f s:\n%s" % (what, rc, took, err[-3000:]))
    # The worker ends the poll it is in: at worst a panel's first full read, a few slow
    # requests.
    expect(took < 10.0, "%s: took %.1f s to stop" % (what, took))
    expect("stopped" in err.splitlines()[-1], "%s: no clean stop logged: %r"
           % (what, err.splitlines()[-3:]))


def main(env):
    rnd = random.Random()
    seed = rnd.randrange(1 << 30)
    rnd.seed(seed)
    print("seed %d" % seed)
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(2,), extra=["--tick-ms", "100"])
    sim.command("delay 1 500")
    sim.command("delay 2 1500")
    broker.sim_port = sim.port
    broker.state_dir = env.tmp
    watch = Watch(broker.port)
    facp = ROOT + "device/facp1/state"

    # The first full read of the slow panel takes seconds (a result is only handed over
    # once every group was read): the signals land before, during and after it.
    windows = [(0.0, 0.5), (0.5, 1.5), (1.5, 3.0), (0.0, 4.0)]
    for i in range(ROUNDS):
        t_start = time.monotonic()
        gw = Gateway(env, config(broker), name="hallwatch-term%d" % i)
        wait_until(lambda: any(s["state"] == "online" for s in statuses(watch, t_start)), 10,
                   "status online (round %d)" % i)
        pause = rnd.uniform(*windows[i % len(windows)])
        time.sleep(pause)  # the moment of the signal, not a wait for anything
        seen = bool(states_since(watch, facp, t_start))
        t_term = time.monotonic()
        rc = gw.stop(signal.SIGTERM, timeout=20)
        took = time.monotonic() - t_term
        check_clean(gw, rc, took, "round %d (SIGTERM %.2f s after start)" % (i, pause))
        offline = wait_until(lambda: [s for s in statuses(watch, t_term)
                                      if s["state"] == "offline"], 5,
                             "status offline after SIGTERM (round %d)" % i)
        print("round %d: SIGTERM %.2f s after connecting (%s the first facp1 state) -> exit 0 "
              "in %.2f s, status %s" % (i, pause, "after" if seen else "before", took,
                                        offline[-1]["state"]))

    # Reloads while the slow device is in flight.
    t_start = time.monotonic()
    gw = Gateway(env, config(broker), name="hallwatch-hup")
    wait_until(lambda: any(s["state"] == "online" for s in statuses(watch, t_start)), 10,
               "status online before the reloads")
    for k in range(3):
        pause = rnd.uniform(0.0, 2.0)
        time.sleep(pause)  # the moment of the signal
        before = gw.proc.stderr_text().count("configuration reloaded")
        gw.proc.send(signal.SIGHUP)
        wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") > before, 10,
                   "reload %d logged" % k)
        expect(gw.proc.alive(), "the daemon died on reload %d" % k)
        t_done = time.monotonic()
        wait_until(lambda: states_since(watch, facp, t_done), 10,
                   "facp1 published after reload %d" % k)
        print("reload %d: SIGHUP %.2f s into polling -> reloaded, publishing" % (k, pause))
    t_term = time.monotonic()
    rc = gw.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - t_term
    check_clean(gw, rc, took, "after the reloads")
    wait_until(lambda: [s for s in statuses(watch, t_term) if s["state"] == "offline"], 5,
               "status offline after the reloads and SIGTERM")
    expect(not any(s in gw.proc.stderr_text() for s in SANITIZER), "sanitizer report")
    print("3 reloads then SIGTERM -> exit 0 in %.2f s" % took)
    watch.close()


if __name__ == "__main__":
    run(main)
