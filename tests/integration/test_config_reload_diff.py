"""A reload applies what changed and nothing else (docs/configuration.md, "Reload").

One gateway with a fire panel on bus tcp0 and two cameras, cam1 linked to zone 3:
1. a fire in zone 3 raises the P1 alert and cuts one clip; the alert is acknowledged;
2. SIGHUP with only mqtt.heartbeat_s changed, three times: each logs one `reload:` line naming
   mqtt.heartbeat_s and nothing else; the cameras' RTSP sessions and the bus's connection go
   on (segment and poll counters keep counting, no reconnect); no new clip,
   no new event;
3. a setting of cam2 changes: only cam2 restarts, cam1 runs on;
4. a device on a new bus is added: it appears, facp1 keeps polling without a gap;
5. it is removed again: its retained state is cleared;
6. cam2 is removed: its retained state is cleared, cam1 runs on;
7. a change that cannot be applied (a camera that cannot start) rolls back to the previous
   configuration, which runs again."""

import json
import os
import signal

from alerts_util import Checks, Operator, events
from harness import (Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run,
                     wait_until)
from videocam import FAST, TestCam, camera_cfg

SITE = "hall-rdiff"
ROOT = "hallwatch/v1/%s/" % SITE
AID = "facp1.zone-3.fire"
DTOPIC = ROOT + "device/facp1/state"
D2TOPIC = ROOT + "device/facp2/state"


def main(env):
    # Collected, not fatal: a run on a daemon that restarts everything reports every point.
    checks = Checks()
    expect = checks.expect
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1, 2), elc=(), extra=["--zones", "8"])
    cam = TestCam(env, ["/cam1", "/cam2"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    clips_dir = os.path.join(state, "clips")
    facp1 = {"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
             "interval_ms": 100, "life_check_s": 0}
    facp2 = {"id": "facp2", "bus": "tcp1", "unit": 2, "profile": "facp-generic",
             "interval_ms": 100, "life_check_s": 0}
    cam1 = dict(FAST, id="cam1", url=cam.url("/cam1"), preroll_s=2, postroll_s=1,
                alert_points=["facp1:zone[3].fire"])
    cam2 = dict(FAST, id="cam2", url=cam.url("/cam2"))

    def cfg(heartbeat=2, cams=(cam1, cam2), second=False, timeout=300, below=None):
        buses = [("tcp0", sim.port, timeout)] + ([("tcp1", sim.port, 300)] if second else [])
        devices = [facp1] + ([facp2] if second else [])
        rules = ('rules = ( { name = "mains_low"; device = "facp1"; point = "mains_voltage"; '
                 'below = %.1f; priority = 3; } );\n' % below) if below else ""
        return gateway_config(SITE, mqtt_port=broker.port, heartbeat=heartbeat, buses=buses,
                              devices=devices, state_dir=state) + \
            camera_cfg(list(cams)) + 'alerts = { operators = [ "alice" ]; };\n' + rules

    sim.set(1, "input", 6, 2300)  # mains 230.0 V
    gw = Gateway(env, cfg(heartbeat=1))
    watch.wait_json(DTOPIC, lambda j: j["online"], 10, "facp1 online")
    for c in ("cam1", "cam2"):
        watch.wait_json(ROOT + "camera/%s/state" % c, lambda j: j["online"] and
                        j["segments"] >= 1, 20, "%s recording" % c)
    op = Operator(broker.port, ROOT)

    # 1. The fire, its clip, its acknowledgement.
    sim.set(1, "input", 103, 1)
    watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "unack", 5, "the P1 alert")
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: (j.get("last_clip") or {}).get("ok"),
                    25, "the fire's clip")
    r = op.send("ack", {"id": AID}, user="alice")
    if not r["ok"]:
        raise TestFailure("ack reply %r" % r)
    watch.wait_json(ROOT + "alert/" + AID, lambda j: j["state"] == "acked", 5, "acked")
    wait_until(lambda: any(e.get("event") == "acked" for e in events(watch, ROOT)), 5,
               "the acked event")
    n_events = len(events(watch, ROOT))
    clips = sorted(os.listdir(clips_dir))
    if len(clips) != 1:
        raise TestFailure("clips before the reloads: %r" % clips)

    def hup(text, what):
        """Rewrites the file, sends SIGHUP, returns the log lines of that reload."""
        log = gw.proc.stderr_text()
        before = log.count("configuration reloaded")
        start = len(log)
        gw.rewrite(text)
        gw.proc.send(signal.SIGHUP)
        wait_until(lambda: gw.proc.stderr_text().count("configuration reloaded") > before, 10,
                   "the reload of " + what)
        lines = [ln for ln in gw.proc.stderr_text()[start:].splitlines() if "reload" in ln]
        print("%s:\n  %s" % (what, "\n  ".join(lines)))
        return [ln for ln in lines if "reload: " in ln]

    def cur(topic):
        return watch.json(ROOT + topic)

    def next_state(topic, what, pred=lambda j: True):
        """The first message on topic after now that pred accepts."""
        n = watch.count(ROOT + topic)

        def newer():
            with watch.lock:
                ms = [m for m in watch.msgs if m[1] == ROOT + topic][n:]
            for m in ms:
                if m[2]:
                    j = json.loads(m[2])
                    if pred(j):
                        return j
            return None
        return wait_until(newer, 10, what)

    # 2. Only the heartbeat changes, three times.
    cam_before = {c: cur("camera/%s/state" % c) for c in ("cam1", "cam2")}
    polls_before = cur("device/facp1/state")["health"]["polls"]
    log_clips = gw.proc.stderr_text().count("clip")
    for i, hb in enumerate((2, 1, 2)):
        lines = hup(cfg(heartbeat=hb), "reload %d (heartbeat_s %d)" % (i + 1, hb))
        expect(len(lines) == 1 and "mqtt.heartbeat_s" in lines[0] and
               ("-> %d" % hb) in lines[0],
               "reload %d logged %r, wanted one line naming mqtt.heartbeat_s" % (i + 1, lines))
    for c in ("cam1", "cam2"):
        after = next_state("camera/%s/state" % c, "%s state after the reloads" % c)
        b = cam_before[c]
        expect(after["reconnects"] == b["reconnects"] and after["segments"] >= b["segments"],
               "%s restarted by a heartbeat reload: before %r, after %r" % (
                   c, {k: b[k] for k in ("reconnects", "segments")},
                   {k: after[k] for k in ("reconnects", "segments")}))
    d = next_state("device/facp1/state", "facp1 state after the reloads")
    expect(d["online"] and d["health"]["polls"] >= polls_before,
           "facp1's bus restarted: polls %d before, %d after" % (
               polls_before, d["health"]["polls"]))
    # Long enough for a clip scheduled by a reload to be written (post-roll + segment).
    seg = cur("camera/cam1/state")["segments"]
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j["segments"] >= seg + 3, 20,
                    "cam1 recording on after the reloads")
    expect(sorted(os.listdir(clips_dir)) == clips,
           "the reloads made clips: %r" % sorted(os.listdir(clips_dir)))
    expect(gw.proc.stderr_text().count("clip") == log_clips,
           "the reloads scheduled clips:\n%s" % "\n".join(
               ln for ln in gw.proc.stderr_text().splitlines() if "clip" in ln))
    new = events(watch, ROOT)[n_events:]
    expect(new == [], "the reloads made events: %r" % new)
    expect(cur("alert/" + AID)["state"] == "acked", "alert %r" % cur("alert/" + AID))

    # 2b. A rule added, then changed so that it holds: evaluated at once, on its own.
    lines = hup(cfg(below=100), "rule added")
    expect(len(lines) == 1 and "reload: rule mains_low (facp1) added" in lines[0],
           "the rule's addition logged %r" % lines)
    lines = hup(cfg(below=300), "rule changed")
    expect(len(lines) == 1 and "reload: rule mains_low (facp1) changed (below)" in lines[0],
           "the rule's change logged %r" % lines)
    wait_until(lambda: [e for e in events(watch, ROOT)[n_events:]
                        if e.get("event") == "raised"], 5, "the changed rule's alert")
    new = events(watch, ROOT)[n_events:]
    expect(len(new) == 1 and new[0].get("id") == "facp1.mains_voltage.mains_low",
           "the rule's change made events %r" % new)
    n_events = len(events(watch, ROOT))

    # 2c. The bus's own setting: it restarts (its device is polled anew), and still the fire
    # already filmed and acknowledged makes no new clip and no new event.
    polls = cur("device/facp1/state")["health"]["polls"]
    lines = hup(cfg(below=300, timeout=350), "tcp0's timeout_ms")
    expect(len(lines) == 1 and "reload: bus tcp0 changed (timeout_ms), restarted" in lines[0],
           "the bus's change logged %r" % lines)
    d = next_state("device/facp1/state", "facp1 polled anew",
                   lambda j: j["health"]["polls"] < polls)
    expect(d["online"], "facp1 after its bus restarted: %r" % d)
    seg = cur("camera/cam1/state")["segments"]
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j["segments"] >= seg + 3, 20,
                    "cam1 recording on after the bus restarted")
    expect(sorted(os.listdir(clips_dir)) == clips,
           "the bus's restart made clips: %r" % sorted(os.listdir(clips_dir)))
    new = events(watch, ROOT)[n_events:]
    expect(new == [], "the bus's restart made events: %r" % new)
    expect(cur("alert/" + AID)["state"] == "acked", "alert %r" % cur("alert/" + AID))

    # 3. One camera's setting: only that camera restarts.
    cam2b = dict(cam2, dark_ms=1500)
    c1 = cur("camera/cam1/state")
    c2 = cur("camera/cam2/state")
    lines = hup(cfg(cams=(cam1, cam2b), below=300, timeout=350), "cam2's dark_ms")
    expect(len(lines) == 1 and "reload: camera cam2 changed (dark_ms), restarted" in lines[0],
           "cam2's change logged %r" % lines)
    a2 = next_state("camera/cam2/state", "cam2 restarted", lambda j: j["segments"] < c2["segments"])
    a1 = next_state("camera/cam1/state", "cam1 after cam2's change")
    expect(a1["segments"] >= c1["segments"] and a1["reconnects"] == c1["reconnects"],
           "cam1 restarted with cam2: segments %r -> %r" % (c1["segments"], a1["segments"]))
    print("cam2 restarted (segments %d -> %d), cam1 ran on (%d -> %d)" %
          (c2["segments"], a2["segments"], c1["segments"], a1["segments"]))

    # 4. A device added on a bus of its own: the others keep polling.
    n_d = watch.count(DTOPIC)
    polls = cur("device/facp1/state")["health"]["polls"]
    lines = hup(cfg(cams=(cam1, cam2b), second=True, below=300, timeout=350), "facp2 added")
    expect(sorted(lines) == sorted(ln for ln in lines if "bus tcp1 added" in ln or
                                   "device facp2 added" in ln) and len(lines) == 2,
           "the addition logged %r" % lines)
    watch.wait_json(D2TOPIC, lambda j: j["online"], 10, "facp2 online")
    d = next_state("device/facp1/state", "facp1 after the addition")
    with watch.lock:
        since = [json.loads(m[2]) for m in watch.msgs if m[1] == DTOPIC][n_d:]
    expect(all(j["online"] for j in since) and d["health"]["polls"] >= polls,
           "facp1 interrupted by the addition: polls %d -> %d, online %r" % (
               polls, d["health"]["polls"], [j["online"] for j in since]))

    # 5. Removed again: its retained state is cleared.
    lines = hup(cfg(cams=(cam1, cam2b), below=300, timeout=350), "facp2 removed")
    expect(any("device facp2 removed" in ln for ln in lines) and
           any("bus tcp1 removed" in ln for ln in lines), "the removal logged %r" % lines)
    wait_until(lambda: watch.latest.get(D2TOPIC) == b"", 5, "facp2's retained state cleared")
    fresh = Watch(broker.port, topic=ROOT + "device/#")
    op.send("list", {}, user="alice")  # a round trip: retained messages arrive before it
    expect(fresh.json(D2TOPIC) is None, "facp2's retained state is still there")
    fresh.close()
    d = next_state("device/facp1/state", "facp1 after the removal")
    expect(d["online"], "facp1 offline after the removal")

    # 6. A camera removed: it stops, its retained state is cleared, the other runs on.
    c1 = cur("camera/cam1/state")
    lines = hup(cfg(cams=(cam1,), below=300, timeout=350), "cam2 removed")
    expect(len(lines) == 1 and "reload: camera cam2 removed" in lines[0],
           "the camera's removal logged %r" % lines)
    wait_until(lambda: watch.latest.get(ROOT + "camera/cam2/state") == b"", 5,
               "cam2's retained state cleared")
    a1 = next_state("camera/cam1/state", "cam1 after cam2's removal")
    expect(a1["segments"] >= c1["segments"] and a1["reconnects"] == c1["reconnects"],
           "cam1 restarted with cam2's removal: %r -> %r" % (c1["segments"], a1["segments"]))

    # 7. A change that cannot be applied (cam3's recording folder is a file): everything goes
    #    back to the previous configuration, which runs again.
    os.makedirs(os.path.join(state, "video"), exist_ok=True)
    with open(os.path.join(state, "video", "cam3"), "w") as f:
        f.write("in the way\n")
    cam3 = dict(FAST, id="cam3", url=cam.url("/cam2"))
    log = gw.proc.stderr_text()
    n_back = log.count("still running on the previous configuration")
    gw.rewrite(cfg(cams=(cam1, cam3), below=300, timeout=350))
    gw.proc.send(signal.SIGHUP)
    wait_until(lambda: gw.proc.stderr_text().count(
        "still running on the previous configuration") > n_back, 10, "the rollback")
    expect("camera cam3: cannot start" in gw.proc.stderr_text()[len(log):],
           "the rollback does not say which camera failed")
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j["online"], 20,
                    "cam1 online after the rollback")
    volts = 2250
    sim.set(1, "input", 6, volts)
    watch.wait_json(DTOPIC, lambda j: j["online"] and
                    abs(j["points"]["mains_voltage"]["v"] - volts / 10.0) < 1e-9, 10,
                    "facp1 polled after the rollback")
    expect(gw.proc.alive(), "the gateway died in the rollback")

    op.close()
    watch.close()
    rc = gw.stop()
    expect(rc == 0, "gateway exit code %r (a sanitizer report?)" % rc)
    checks.done()


if __name__ == "__main__":
    run(main)
