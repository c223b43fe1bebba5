"""The console's Devices, Cameras and Patrols pages against the running daemon
(docs/http.md): a recording read with Range requests (206 with the right bytes and
Content-Range, Accept-Ranges on the whole file, 416 beyond its end, and a clip downloaded
as an attachment), the local device history (samples of a numeric point folded into minutes
and returned, a range outside them empty, an unknown point 404, the rows in hallwatch.db
bounded to one per point and minute), the camera data (list, recordings through
cmd/recordings: an unknown camera 404), the pages themselves and Chart.js from the
resource, cmd/tasks through /api/v1/tasks, and site.language in what the pages read."""

import os
import sqlite3
import time

from harness import TestFailure, run
from web_util import PASSWORDS, Bench, Client


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def main(env):
    b = Bench(env, language="en")
    anon, viewer, insp = Client(b.port), Client(b.port), Client(b.port)
    viewer.login("victor", PASSWORDS["victor"])
    insp.login("ingrid", PASSWORDS["ingrid"])

    # ---- the site's language ----
    r, _, js = anon.request("GET", "/api/v1/health")
    expect(js["language"] == "en", "health language: %r" % js)
    r, _, js = viewer.request("GET", "/api/v1/me")
    expect(js["language"] == "en", "me language: %r" % js)

    # ---- pages and Chart.js ----
    for path in ("/devices", "/cameras", "/patrols"):
        r, _, _ = anon.request("GET", path)
        expect(r.status == 303, "%s without a session: %s" % (path, r.status))
        r, data, _ = viewer.request("GET", path)
        expect(r.status == 200 and b"<script>" not in data and b"/static/common.js" in data,
               "%s: %s" % (path, r.status))
    r, data, _ = viewer.request("GET", "/static/chart.js")
    expect(r.status == 200 and b"Chart.js v3" in data[:200], "chart.js: %s %r" % (r.status, data[:80]))
    r, _, _ = anon.request("GET", "/static/chart.js")
    expect(r.status == 303, "chart.js without a session: %s" % r.status)

    # ---- a recording with Range requests ----
    cam_dir = os.path.join(env.tmp, "video", "cam1")
    os.makedirs(cam_dir, exist_ok=True)
    body = bytes((i * 7 + 3) % 256 for i in range(100000))
    with open(os.path.join(cam_dir, "cam1-20261203T100000000Z.mp4"), "wb") as f:
        f.write(body)
    url = "/media/recordings/cam1/cam1-20261203T100000000Z.mp4"
    r, data, _ = viewer.request("GET", url)
    expect(r.status == 200 and data == body, "whole file: %s %d" % (r.status, len(data)))
    expect(r.getheader("Accept-Ranges") == "bytes", "Accept-Ranges: %r" % r.getheader("Accept-Ranges"))
    expect(r.getheader("Content-Type") == "video/mp4", r.getheader("Content-Type"))
    r, data, _ = viewer.request("GET", url, headers={"Range": "bytes=1000-1999"})
    expect(r.status == 206 and data == body[1000:2000], "a range: %s %d" % (r.status, len(data)))
    expect(r.getheader("Content-Range") == "bytes 1000-1999/100000", r.getheader("Content-Range"))
    r, data, _ = viewer.request("GET", url, headers={"Range": "bytes=99990-"})
    expect(r.status == 206 and data == body[99990:], "an open range: %s %d" % (r.status, len(data)))
    r, data, _ = viewer.request("GET", url, headers={"Range": "bytes=-16"})
    expect(r.status == 206 and data == body[-16:], "a suffix range: %s %d" % (r.status, len(data)))
    r, data, _ = viewer.request("GET", url, headers={"Range": "bytes=200000-300000"})
    expect(r.status == 416 and r.getheader("Content-Range") == "bytes */100000",
           "beyond the end: %s %r" % (r.status, r.getheader("Content-Range")))
    clips = os.path.join(env.tmp, "clips")
    os.makedirs(clips, exist_ok=True)
    with open(os.path.join(clips, "cam1-clip.mp4"), "wb") as f:
        f.write(body[:5000])
    r, data, _ = viewer.request("GET", "/media/clips/cam1-clip.mp4?download=1")
    expect(r.status == 200 and data == body[:5000] and "attachment" in
           (r.getheader("Content-Disposition") or ""), "clip download: %s %r"
           % (r.status, r.getheader("Content-Disposition")))
    r, _, _ = viewer.request("GET", "/media/clips/..%2fvideo%2fcam1%2fcam1-20261203T100000000Z.mp4")
    expect(r.status in (400, 404), "a clip path out of its folder: %s" % r.status)

    # ---- cameras data ----
    r, _, js = viewer.request("GET", "/api/v1/cameras")
    expect(r.status == 200 and js["cameras"] == [], "cameras: %r" % js)
    r, _, js = viewer.request("GET", "/api/v1/cameras/nocam/recordings?from=1764700000&to=1764703600")
    expect(r.status == 404 and js["error"] == "unknown_camera", "recordings: %s %r" % (r.status, js))

    # ---- tasks and records through the router ----
    r, _, js = viewer.request("GET", "/api/v1/tasks")
    expect(r.status == 200 and js["ok"] and "tasks" in js, "tasks: %s %r" % (r.status, js))
    r, _, js = insp.request("GET", "/api/v1/records?limit=5")
    expect(r.status in (200, 404) and (js["ok"] or js["error"] == "unknown_verb"),
           "records: %s %r" % (r.status, js))

    # ---- device history ----
    r, _, js = viewer.request("GET", "/api/v1/devices")
    elc = [d for d in js["devices"] if d["device"] == "elc1"][0]
    nums = [k for k, p in elc["points"].items() if type(p.get("v")) in (int, float)
            and type(p.get("v")) is not bool and p["q"] == "good"]
    expect(nums, "elc1 has no numeric point: %r" % elc["points"])
    point = nums[0]
    hist = "/api/v1/devices/elc1/history?point=" + point
    deadline = time.monotonic() + 20
    while True:
        r, _, js = viewer.request("GET", hist)
        expect(r.status == 200, "history: %s %r" % (r.status, js))
        if sum(x[4] for x in js["samples"]) >= 4:
            break
        expect(time.monotonic() < deadline, "no history of elc1 %s: %r" % (point, js))
        time.sleep(0.2)
    s = js["samples"]
    expect(js["bucket_ms"] == 60000 and len(s) <= 2, "minutes: %r" % js)
    t, mn, avg, mx, n = s[-1]
    expect(all(x[0] % 60000 == 0 and x[1] <= x[2] <= x[3] for x in s), "minutes: %r" % s)
    expect(abs(avg - elc["points"][point]["v"]) <= abs(mx - mn) + 1e-6, "avg %r vs %r"
           % (avg, elc["points"][point]["v"]))
    now = int(time.time() * 1000)
    r, _, js = viewer.request("GET", hist + "&from=%d&to=%d" % (now + 3600000, now + 7200000))
    expect(r.status == 200 and js["samples"] == [], "a later range: %r" % js)
    r, _, js = viewer.request("GET", "/api/v1/devices/elc1/history?point=nosuch")
    expect(r.status == 404 and js["error"] == "unknown_point", "unknown point: %s %r" % (r.status, js))
    r, _, js = viewer.request("GET", "/api/v1/devices/nodev/history?point=x")
    expect(r.status == 404 and js["error"] == "unknown_device", "unknown device: %s %r" % (r.status, js))
    r, _, js = viewer.request("GET", hist + "&from=abc")
    expect(r.status == 400, "a bad from: %s" % r.status)

    # A clean stop writes the minutes in memory: one row per point and minute.
    rc = b.gw.stop()
    expect(rc == 0, "stop: %s" % rc)
    db = sqlite3.connect(os.path.join(env.tmp, "hallwatch.db"))
    rows = db.execute("SELECT device, point, COUNT(*), SUM(n) FROM hist_sample GROUP BY "
                      "device, point").fetchall()
    mine = [x for x in rows if x[0] == "elc1" and x[1] == point]
    expect(mine and mine[0][2] <= 2 and mine[0][3] >= 4, "rows of %s: %r" % (point, rows))
    expect(all(x[2] <= 2 for x in rows), "more than one row per point and minute: %r" % rows)
    db.close()


if __name__ == "__main__":
    run(main)
