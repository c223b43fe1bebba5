"""cmd/clip through the router: an operator asks for a range of the recordings over MQTT and
gets the reply once the clip is cut (off the main loop), with the path of a file that plays
and covers the range; the refusals say why: nothing recorded there, no such camera, a range
backwards or too long, no range at all, not an operator. Every request is in the audit."""

import math
import os
import sqlite3

from alerts_util import Operator, events
from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, discover_duration

SITE = "hall-clipcmd"
ROOT = "hallwatch/v1/%s/" % SITE
GOP_S = 1.0


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def closed_rows(db_path):
    if not os.path.exists(db_path):
        return []
    db = sqlite3.connect(db_path)
    try:
        return db.execute("SELECT start_ms, end_ms FROM video_segments WHERE camera='cam1' "
                          "AND end_ms IS NOT NULL ORDER BY start_ms").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    db = os.path.join(state, "hallwatch.db")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"), segment_s=2)
    gw = Gateway(env, gateway_config(SITE, mqtt_port=broker.port, state_dir=state)
                 + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    # The first segment may start the stream in another format: clip the next two.
    segs = wait_until(lambda: (lambda r: r if len(r) >= 3 else None)(closed_rows(db)), 30,
                      "three closed segments")[1:]
    op = Operator(broker.port, ROOT)

    frm = int(math.ceil(segs[0][0] / 1000.0 + 0.3))
    to = int(math.floor(segs[1][1] / 1000.0 - 0.2))
    r = op.send("clip", {"camera": "cam1", "from": frm, "to": to, "request_id": "c1"},
                user="alice", timeout=30)
    expect(r.get("ok") is True and r.get("request_id") == "c1", "clip refused: %r" % r)
    path = r.get("path") or ""
    expect(path.startswith(os.path.join(state, "clips", "cam1-")) and os.path.exists(path),
           "clip path %r" % path)
    d = discover_duration(path)
    expect(d is not None and to - frm - 0.25 <= d <= to - frm + GOP_S + 0.25,
           "clip of %d s lasts %r s" % (to - frm, d))
    # The same range as text, UTC.
    import time
    iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
    r = op.send("clip", {"camera": "cam1", "from": iso(frm), "to": iso(to)}, user="alice",
                timeout=30)
    expect(r.get("ok") is True and r.get("path") != path, "clip by UTC text: %r" % r)

    refusals = [
        ({"camera": "cam1", "from": 1000000, "to": 1000010}, "alice", "not_recorded",
         "camera cam1 has no recording for 1970-01-12 13:46:40-13:46:50 UTC"),
        ({"camera": "cam9", "from": frm, "to": to}, "alice", "unknown_camera", 'no camera "cam9"'),
        ({"camera": "cam1", "from": to, "to": frm}, "alice", "out_of_range", "at most 600 s"),
        ({"camera": "cam1", "from": frm, "to": frm + 3600}, "alice", "out_of_range",
         "at most 600 s"),
        ({"camera": "cam1"}, "alice", "invalid", 'cmd/clip needs "from" and "to"'),
        ({"camera": "cam1", "from": frm, "to": to, "partial": "yes"}, "alice", "invalid",
         'cmd/clip: "partial" is true or false'),
        ({"camera": "cam1", "from": frm, "to": to}, "mallory", "not_authorized",
         '"mallory" is not in alerts.operators'),
    ]
    for body, user, code, sentence in refusals:
        r = op.send("clip", body, user=user, timeout=30)
        expect(r.get("ok") is False and r.get("error") == code and
               sentence in (r.get("message") or ""),
               "clip %r by %s: %r, wanted %s: %s" % (body, user, r, code, sentence))
    audited = wait_until(lambda: [e for e in events(watch, ROOT)
                                  if e.get("event") == "command" and e.get("verb") == "clip"],
                         10, "the clips in the audit")
    expect(any(e.get("result") == "accepted" and e.get("path") == path for e in audited),
           "the accepted clip is not in the audit: %r" % audited)
    op.close()
    watch.close()
    expect(gw.stop() == 0, "the gateway did not exit cleanly")


if __name__ == "__main__":
    run(main)
