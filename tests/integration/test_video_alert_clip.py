"""Alert clips: a fire zone linked to a camera (alert_points) turns on in the simulator -> a clip
from preroll_s before to postroll_s after it is written under state_dir/clips, named on
camera/<id>/state as last_clip and in the fire alert's raised event, plays, and covers the
pre-roll and post-roll (within one key-frame interval). A zone not linked to the camera makes
no clip."""

import os

from harness import Gateway, Mosquitto, Sim, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration

SITE = "hall-vclip"
ROOT = "hallwatch/v1/%s/" % SITE
CTOPIC = ROOT + "camera/cam1/state"
PREROLL, POSTROLL, GOP_S = 3, 2, 1.0


def main(env):
    broker = Mosquitto(env)
    sim = Sim(env, facp=(1,), elc=(), extra=["--zones", "8"])
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=3, preroll_s=PREROLL,
             postroll_s=POSTROLL, alert_points=["facp1:zone[3].fire"])
    cfg = gateway_config(
        SITE, mqtt_port=broker.port, heartbeat=1, buses=[("tcp0", sim.port, 300)],
        devices=[{"id": "facp1", "bus": "tcp0", "unit": 1, "profile": "facp-generic",
                  "interval_ms": 100, "life_check_s": 0}],
        state_dir=state) + camera_cfg([c])
    gw = Gateway(env, cfg)
    watch.wait_json(ROOT + "device/facp1/state", lambda j: j["online"], 10, "facp1 online")
    # Enough recorded for the pre-roll: two closed segments.
    watch.wait_json(CTOPIC, lambda j: j["segments"] >= 2, 20, "two recorded segments")

    sim.set(1, "input", 102, 1)  # zone 2: not linked, no clip
    sim.set(1, "input", 103, 1)  # zone 3: linked to cam1
    j = watch.wait_json(CTOPIC, lambda j: j.get("last_clip"), 25, "the alert clip")
    lc = j["last_clip"]
    if not lc["ok"] or lc["point"] != "facp1:zone[3].fire":
        raise TestFailure("last_clip %r" % lc)
    path = lc["path"]
    if not path.startswith(os.path.join(state, "clips") + os.sep) or not os.path.exists(path):
        raise TestFailure("clip not under state_dir/clips: %s" % path)
    d = discover_duration(path)
    want = PREROLL + POSTROLL
    if d is None or not (want - 0.3 <= d <= want + GOP_S + 0.3):
        raise TestFailure("alert clip lasts %r s, wanted %d s (+ up to one GOP)" % (d, want))
    clips = os.listdir(os.path.join(state, "clips"))
    if len(clips) != 1 or "zone_3" not in clips[0]:
        raise TestFailure("clips made: %r" % clips)
    print("alert clip %s: %.2f s (pre-roll %d s, post-roll %d s)" %
          (os.path.basename(path), d, PREROLL, POSTROLL))
    # The fire alert's raised event names the clip; zone 2's does not name any.
    import json
    with watch.lock:
        evs = [json.loads(m[2]) for m in watch.msgs if m[1] == ROOT + "events"]
    raised = {e.get("id"): e for e in evs if e.get("event") == "raised"}
    z3, z2 = raised.get("facp1.zone-3.fire"), raised.get("facp1.zone-2.fire")
    if not z3 or z3.get("clips") != [path]:
        raise TestFailure("the zone 3 fire event does not name its clip: %r" % z3)
    if not z2 or "clips" in z2:
        raise TestFailure("the zone 2 fire event names a clip: %r" % z2)
    gw.stop()
    watch.close()


if __name__ == "__main__":
    run(main)
