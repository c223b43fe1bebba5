"""A snapshot on demand from the running daemon: `cmd/snapshot` over MQTT v5.

An operator's request for a camera's snapshot gets a reply naming a JPEG of the camera's size
under <state_dir>/snapshots/, the camera's state then carries `last_snapshot`, and the request
is in the event log; a request from someone who is not an operator, for a camera that does not
exist, or without a camera is refused with the documented error and writes nothing."""

import os

from alerts_util import Operator, events
from harness import Gateway, Mosquitto, TestFailure, Watch, gateway_config, run, wait_until
from videocam import FAST, TestCam, camera_cfg, jpeg_size

SITE = "hall-snap"
ROOT = "hallwatch/v1/%s/" % SITE
TOPIC = ROOT + "camera/cam1/state"


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    snaps = os.path.join(state, "snapshots")
    c = dict(FAST, id="cam1", url=cam.url("/cam1"))
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
            + camera_cfg([c]) + 'alerts = { operators = [ "alice" ]; };\n')
    watch.wait_json(TOPIC, lambda j: j.get("online") and j.get("width") == 320, 20,
                    "cam1 online at 320x180")
    expect(watch.json(TOPIC).get("last_snapshot") is None, "a snapshot before any was asked")
    op = Operator(broker.port, ROOT)

    r = op.send("snapshot", {"camera": "cam1", "request_id": "s1"}, user="alice")
    expect(r.get("ok") is True and r.get("camera") == "cam1" and r.get("request_id") == "s1",
           "snapshot refused: %r" % r)
    path = r.get("path") or ""
    expect(os.path.dirname(path) == snaps and os.path.isfile(path),
           "the reply names no snapshot file under %s: %r" % (snaps, r))
    size = jpeg_size(path)
    expect(size == (320, 180), "snapshot is %dx%d, the camera 320x180" % size)
    watch.wait_json(TOPIC, lambda j: j.get("last_snapshot") is not None, 5,
                    "last_snapshot in the camera's state")
    wait_until(lambda: any(e.get("event") == "command" and e.get("verb") == "snapshot"
                           and e.get("by") == "alice" and e.get("result") == "accepted"
                           and e.get("camera") == "cam1" and e.get("path") == path
                           for e in events(watch, ROOT)), 5,
               "the accepted snapshot in the event log")

    for body, user, err, msg in (
            ({"camera": "cam1"}, "mallory", "not_authorized", '"mallory" is not in alerts.operators'),
            ({"camera": "cam9"}, "alice", "unknown_camera", 'no camera "cam9"'),
            ({"camera": "../cam1"}, "alice", "unknown_camera", 'no camera "../cam1"'),
            ({}, "alice", "invalid", 'cmd/snapshot needs "camera"')):
        r = op.send("snapshot", body, user=user)
        expect(r.get("ok") is False and r.get("error") == err and r.get("message") == msg,
               "snapshot %r by %s: %r, wanted error %s: %s" % (body, user, r, err, msg))
    expect(os.listdir(snaps) == [os.path.basename(path)],
           "refused snapshots wrote files: %r" % os.listdir(snaps))
    print("snapshot %s: %dx%d, %d bytes" % (os.path.basename(path), size[0], size[1],
                                            os.path.getsize(path)))
    op.close()


if __name__ == "__main__":
    run(main)
