"""A camera's latest snapshot through the console: an operator's GET
/api/v1/cameras/<id>/snapshot takes one through cmd/snapshot (the router: audited with the
console user's name) and answers the JPEG from the snapshots folder; a viewer, who may not
send cmd/snapshot, gets the newest one already taken; the overview and the camera list carry
the camera; an unknown camera is 404."""

import os
import struct

from harness import Gateway, Mosquitto, TestFailure, Watch, free_port, gateway_config, run
from videocam import FAST, TestCam, camera_cfg
from web_util import PASSWORDS, Client, hash_password

SITE = "hall-websnap"
ROOT = "hallwatch/v1/%s/" % SITE


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def jpeg_dims(data):
    """(width, height) of a baseline or progressive JPEG's first SOF marker."""
    i = 2
    while i < len(data) - 9:
        if data[i] != 0xFF:
            i += 1
            continue
        marker = data[i + 1]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    return None


def main(env):
    broker = Mosquitto(env)
    cam = TestCam(env, ["/cam1"])
    watch = Watch(broker.port)
    state = os.path.join(env.tmp, "state")
    port = free_port()
    users = ", ".join('{ name = "%s"; role = "%s"; password_hash = "%s"; }'
                      % (u, r, hash_password(PASSWORDS[u]))
                      for u, r in (("olga", "operator"), ("victor", "viewer")))
    Gateway(env, gateway_config(SITE, mqtt_port=broker.port, heartbeat=1, state_dir=state)
            + camera_cfg([dict(FAST, id="cam1", url=cam.url("/cam1"))])
            + 'http = { enabled = true; port = %d; users = ( %s ); };\n' % (port, users))
    watch.wait_json(ROOT + "camera/cam1/state", lambda j: j.get("online") and j.get("width") == 320,
                    20, "cam1 online at 320x180")
    op, viewer = Client(port), Client(port)
    op.login("olga", PASSWORDS["olga"])
    viewer.login("victor", PASSWORDS["victor"])

    r, data, _ = viewer.request("GET", "/api/v1/cameras/cam1/snapshot")
    expect(r.status == 404, "a viewer before any snapshot: %s" % r.status)
    r, data, _ = op.request("GET", "/api/v1/cameras/cam1/snapshot")
    expect(r.status == 200 and r.getheader("Content-Type") == "image/jpeg"
           and jpeg_dims(data) == (320, 180), "operator snapshot: %s %s %r"
           % (r.status, r.getheader("Content-Type"), jpeg_dims(data)))
    files = os.listdir(os.path.join(state, "snapshots"))
    expect(len(files) == 1 and files[0].startswith("cam1-"), "snapshots folder: %r" % files)
    with open(os.path.join(state, "snapshots", files[0]), "rb") as f:
        expect(f.read() == data, "the answer is not the file written")
    r, vdata, _ = viewer.request("GET", "/api/v1/cameras/cam1/snapshot")
    expect(r.status == 200 and vdata == data, "a viewer's newest snapshot: %s" % r.status)
    expect(len(os.listdir(os.path.join(state, "snapshots"))) == 1, "a viewer took a snapshot")
    r, _, js = viewer.request("GET", "/api/v1/alerts/history?event=command")
    expect(any(e["verb"] == "snapshot" and e["by"] == "olga" and e.get("via") == "http"
               and e["result"] == "accepted" for e in js["events"]),
           "the snapshot in the audit: %r" % js)
    r, _, js = viewer.request("GET", "/api/v1/cameras")
    expect(r.status == 200 and [c["camera"] for c in js["cameras"]] == ["cam1"], "%r" % js)
    r, _, ov = viewer.request("GET", "/api/v1/state/overview")
    expect(ov["cameras"][0]["id"] == "cam1" and ov["cameras"][0]["last_snapshot"] > 0,
           "overview camera: %r" % ov["cameras"])
    for path in ("/api/v1/cameras/cam9/snapshot", "/api/v1/cameras/..%2fcam1/snapshot"):
        r, data, _ = op.request("GET", path)
        expect(r.status in (400, 404) and not data.startswith(b"\xff\xd8"),
               "%s: %s" % (path, r.status))


if __name__ == "__main__":
    run(main)
