"""A misbehaving peer must not hide the loss of a panel.

One TCP bus, one request in flight (pipeline 1, as on a serial line), two fire panels: facp1
misbehaves, facp2 is healthy. Each phase starts from facp1 online and good, makes facp1
misbehave, checks what the gateway publishes, and undoes it:

(a) facp1 sends its answers one byte every 200 ms (`dribble`): each answer would take several
    seconds, although no gap between two bytes reaches the 1 s timeout. Every request must fail
    at the timeout (a whole-request deadline): timeouts counted, facp1 offline, no round trip
    above the timeout published; facp2 keeps being read (its polls go on, its points good).
(b) facp1 answers whole but 900 ms late, under the timeout, and its fast alarm group is always
    due again: the line never gets to facp2 (the scheduler serves the fastest groups first).
    facp2 must not stay online/good with old values: every one of its points turns stale
    within two of its intervals plus the timeout after its group's last read (and a scan
    period), and returns to good once the line is free.
(c) facp1's reads of the alarm word are answered with exception 0x0B (gateway target failed to
    respond), then 0x0A (gateway path unavailable): the device is unreachable, not refusing an
    address: timeouts counted, facp1 offline with last_error timeout, its fire point never
    config_error.
(d) facp1's answers carry another unit id, then an MBAP length of 0, then 65535: every such
    answer is an error (invalid), never a good value, and facp1 goes offline."""

import json
import os
import time

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until

SITE = "hall-peer"
ROOT = "hallwatch/v1/%s/" % SITE
TIMEOUT_MS = 1000
FACP2_MS = 500  # facp2's interval for every group
# (b): facp2 goes stale 2 intervals + the timeout after its last read; the worker checks
# every 200 ms, between requests.
STALE_S = (2 * FACP2_MS + TIMEOUT_MS) / 1000.0
STALE_SLACK_S = 0.2 + 0.5
# Phases to run (all by default; e.g. HW_PEER_PHASES=c to look at one alone).
PHASES = os.environ.get("HW_PEER_PHASES", "abcd")


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def topic(dev):
    return ROOT + "device/%s/state" % dev


def states(watch, dev, t0=0.0):
    with watch.lock:
        return [(m[0], json.loads(m[2].decode())) for m in watch.msgs
                if m[1] == topic(dev) and m[0] >= t0 and m[2]]


def short(j):
    return json.dumps({"online": j["online"], "quality": j["quality"],
                       "fire": j["points"].get("fire"), "health": j["health"]}, sort_keys=True)


def all_good(j):
    return j["online"] and all(p["q"] == "good" for p in j["points"].values()
                               if p["q"] != "none")


def wait_state(watch, dev, pred, timeout, what, t0=0.0):
    def check():
        got = [j for _, j in states(watch, dev, t0) if pred(j)]
        return got[-1] if got else None
    try:
        return wait_until(check, timeout, what)
    except TestFailure as e:
        last = watch.json(topic(dev))
        raise TestFailure("%s; latest %s state: %s" % (e, dev, short(last) if last else None))


def recover(sim, watch, what):
    t = time.monotonic()
    wait_state(watch, "facp1", lambda j: all_good(j), 20, "facp1 online and good " + what, t)
    wait_state(watch, "facp2", lambda j: all_good(j), 20, "facp2 online and good " + what, t)


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1, 2), elc=(), extra=["--tick-ms", "100"])
    watch = Watch(broker.port)
    devices = [{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                "offline_after": 2, "backoff_max_ms": 1000, "life_check_s": 0,
                "intervals": {"alarm": 100, "detail": 1000, "analog": 1000}},
               {"id": "facp2", "bus": "tcp0", "unit": 2, "profile": "facp-generic",
                "offline_after": 2, "backoff_max_ms": 1000, "life_check_s": 0,
                "interval_ms": FACP2_MS,
                "intervals": {"alarm": FACP2_MS, "detail": FACP2_MS, "analog": FACP2_MS}}]
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1,
                                buses=[("tcp0", sim.port, TIMEOUT_MS, 1)], devices=devices,
                                state_dir=env.tmp))
    recover(sim, watch, "at start")

    if "a" in PHASES:
        phase_a(sim, watch)
    if "b" in PHASES:
        phase_b(sim, watch)
    if "c" in PHASES:
        phase_c(sim, watch)
    if "d" in PHASES:
        phase_d(sim, watch)
    watch.close()


def phase_a(sim, watch):
    """One byte every 200 ms."""
    t0 = time.monotonic()
    h0 = watch.json(topic("facp1"))["health"]
    sim.command("dribble 1 200")
    off = wait_state(watch, "facp1", lambda j: not j["online"]
                     and j["health"]["errors"]["timeout"] >= h0["errors"]["timeout"] + 2,
                     15, "(a) facp1 offline with timeouts counted", t0)
    slow = [j["health"]["rtt_ms"] for _, j in states(watch, "facp1", t0)
            if j["health"]["rtt_ms"] > TIMEOUT_MS]
    expect(not slow, "(a) round trips above the timeout were taken as answers: %r" % slow)
    p2 = watch.json(topic("facp2"))["health"]["polls"]
    wait_state(watch, "facp2", lambda j: all_good(j) and j["health"]["polls"] >= p2 + 4, 10,
               "(a) facp2 still polled and good next to the dribbling facp1", t0)
    print("(a) dribble: facp1 offline after %.1f s, %d timeouts, last_error %s"
          % (time.monotonic() - t0, off["health"]["errors"]["timeout"],
             off["health"]["last_error"]))
    sim.command("dribble 1 0")
    recover(sim, watch, "after (a)")



def phase_b(sim, watch):
    """facp1 slow but in time, always due: facp2 starved."""
    sim.command("delay 1 900")
    t0 = time.monotonic()
    # Each group goes stale on its own last read: the first stale state may still have a
    # group read later than the others good; the state that counts has every point stale.
    st = wait_state(watch, "facp2", lambda j: j["online"] and all(
        p["q"] in ("stale", "none") for p in j["points"].values()) and any(
        p["q"] == "stale" for p in j["points"].values()), STALE_S + STALE_SLACK_S + 10,
        "(b) every facp2 point stale while the line serves facp1 only", t0)
    took = time.monotonic() - t0
    ages = [st["last_poll"] - p["t"] for p in st["points"].values() if p["q"] == "stale"]
    expect(min(ages) >= STALE_S * 1000 - 50, "(b) stale after %d ms, sooner than 2 intervals "
           "plus the timeout" % min(ages))
    # facp2 was last read at most one of its intervals and one slow facp1 request after the
    # load began.
    limit = STALE_S + FACP2_MS / 1000.0 + 0.9 + STALE_SLACK_S
    expect(took <= limit, "(b) facp2 stale only %.1f s after the load began (limit %.1f s)"
           % (took, limit))
    print("(b) starved facp2: stale %.1f s after the load began (threshold %d ms after its "
          "last read)" % (took, STALE_S * 1000))
    sim.command("delay 1 0")
    recover(sim, watch, "after (b)")



def phase_c(sim, watch):
    """Gateway exceptions: the target behind the gateway does not answer."""
    for code in (0x0B, 0x0A):
        t0 = time.monotonic()
        h0 = watch.json(topic("facp1"))["health"]
        sim.command("refuse 1 input 0 0 %d" % code)
        off = wait_state(watch, "facp1", lambda j: not j["online"]
                         and j["health"]["errors"]["timeout"] >= h0["errors"]["timeout"] + 2,
                         10, "(c) facp1 offline after exception 0x%02X" % code, t0)
        expect(off["health"]["last_error"] == "timeout", "(c) last_error %r after 0x%02X"
               % (off["health"]["last_error"], code))
        bad = [j for _, j in states(watch, "facp1", t0)
               if any(p["q"] == "config_error" for p in j["points"].values())]
        expect(not bad, "(c) exception 0x%02X taken as a refused address: %s"
               % (code, short(bad[0]) if bad else ""))
        print("(c) exception 0x%02X: facp1 offline, last_error %s, timeouts %d -> %d"
              % (code, off["health"]["last_error"], h0["errors"]["timeout"],
                 off["health"]["errors"]["timeout"]))
        sim.command("unrefuse 1")
        recover(sim, watch, "after (c) 0x%02X" % code)



def phase_d(sim, watch):
    """Answers whose header does not match the request."""
    for lie in ("unit", "len0", "len65535"):
        t0 = time.monotonic()
        h0 = watch.json(topic("facp1"))["health"]
        sim.command("lie 1 %s" % lie)
        sim.set(1, "input", 0, 1)  # fire, only ever seen through lying answers
        off = wait_state(watch, "facp1", lambda j: not j["online"]
                         and j["health"]["errors"]["invalid"] >= h0["errors"]["invalid"] + 2,
                         10, "(d) facp1 offline with invalid answers (%s)" % lie, t0)
        good = [j for _, j in states(watch, "facp1", t0)
                if j["points"]["fire"]["q"] == "good" and j["points"]["fire"]["v"] is True]
        expect(not good, "(d) %s: a lying answer was taken as good: %s" % (lie, short(good[0])
                                                                          if good else ""))
        print("(d) lie %s: facp1 offline, invalid %d -> %d" % (
            lie, h0["errors"]["invalid"], off["health"]["errors"]["invalid"]))
        sim.command("lie 1 none")
        sim.set(1, "input", 0, 0)
        recover(sim, watch, "after (d) %s" % lie)


if __name__ == "__main__":
    run(main)
