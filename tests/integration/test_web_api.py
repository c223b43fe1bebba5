"""The console's JSON API against the running daemon (docs/http.md): what works without a
session (health, the login page and its assets) and what does not (401 / redirect), each
role allowed and refused what it should through the command router (a viewer cannot
acknowledge, an operator can, a P1 shelve is refused with the router's reason, an inspector
cannot acknowledge), the audit names the console user, a wrong or missing CSRF token (403),
a bearer token, paths that try to leave the snapshots and recordings folders (never the
file), an oversized body (413), the live WebSocket (refused without a session, the fire
alarm within a second with one), the security headers, logout, and last a burst of bad
logins (429 with Retry-After)."""

import os
import signal
import time

from harness import TestFailure, run
from web_util import FIRE_ID, PASSWORDS, Bench, Client, Live


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def header(r, name):
    return r.getheader(name) or ""


def main(env):
    b = Bench(env)
    anon = Client(b.port)

    # ---- without a session ----
    r, _, js = anon.request("GET", "/api/v1/health")
    expect(r.status == 200 and js["ok"], "health: %s %r" % (r.status, js))
    csp = header(r, "Content-Security-Policy")
    expect("default-src 'self'" in csp and "frame-ancestors 'none'" in csp
           and "unsafe-inline" not in csp, "CSP: %r" % csp)
    expect(header(r, "X-Content-Type-Options") == "nosniff", "nosniff missing")
    expect(header(r, "Referrer-Policy"), "Referrer-Policy missing")
    for path in ("/api/v1/me", "/api/v1/alerts", "/api/v1/state/overview", "/api/v1/devices",
                 "/api/v1/cameras", "/api/v1/alerts/history"):
        r, _, js = anon.request("GET", path)
        expect(r.status == 401 and js["error"] == "no_session", "%s: %s %r" % (path, r.status, js))
    r, _, _ = anon.request("POST", "/api/v1/alerts/%s/ack" % FIRE_ID, {})
    expect(r.status == 401, "ack without a session: %s" % r.status)
    for path in ("/", "/alerts", "/static/common.js", "/static/overview.js"):
        r, _, _ = anon.request("GET", path)
        expect(r.status == 303 and header(r, "Location").endswith("/login"),
               "%s without a session: %s %s" % (path, r.status, header(r, "Location")))
    for path in ("/login", "/static/login.js", "/static/style.css", "/static/i18n.js"):
        r, data, _ = anon.request("GET", path)
        expect(r.status == 200 and data, "%s: %s" % (path, r.status))
        expect("frame-ancestors 'none'" in header(r, "Content-Security-Policy"), path)
    expect(b"<script>" not in anon.request("GET", "/login")[1], "an inline script")
    live = Live(b.port, None)
    expect(live.status == 401, "live without a session: %s" % live.status)
    live.close()

    # ---- logins and roles ----
    users = {}
    for u, pw in PASSWORDS.items():
        c = Client(b.port)
        r, js = c.login(u, pw)
        expect(r.status == 200 and js["user"] == u, "login %s: %s %r" % (u, r.status, js))
        cookie = [v for k, v in r.getheaders() if k.lower() == "set-cookie"][0]
        for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
            expect(attr in cookie, "cookie lacks %s: %s" % (attr, cookie))
        expect(len(c.cookie.split("=", 1)[1]) == 64, "session id is not 256 bits: %s" % c.cookie)
        r, _, me = c.request("GET", "/api/v1/me")
        expect(r.status == 200 and me["role"] == {"victor": "viewer", "olga": "operator",
                                                  "ingrid": "inspector", "adam": "admin"}[u],
               "me %s: %r" % (u, me))
        users[u] = c
    r, js = Client(b.port).login("olga", "wrong")
    expect(r.status == 401 and js["error"] == "bad_login", "wrong password: %s %r" % (r.status, js))

    viewer, op, insp, admin = users["victor"], users["olga"], users["ingrid"], users["adam"]
    r, _, ov = viewer.request("GET", "/api/v1/state/overview")
    expect(r.status == 200 and ov["safe"] is True, "overview before the fire: %r" % ov)
    kinds = {d["id"]: d["kind"] for d in ov["devices"]}
    expect(kinds == {"facp1": "fire_panel", "elc1": "emergency_lighting"}, "kinds %r" % kinds)

    # ---- live: the fire alarm reaches an open page within a second ----
    ws = Live(b.port, viewer.cookie, origin="http://127.0.0.1:%d" % b.port)
    expect(ws.status == 101, "live with a session: %s %r" % (ws.status, ws.head))
    ws.wait(lambda m: m["type"] == "hello", 5, "hello")
    foreign = Live(b.port, viewer.cookie, origin="http://evil.example")
    expect(foreign.status == 403, "live from another origin: %s" % foreign.status)
    foreign.close()
    t0 = time.monotonic()
    b.fire()
    m = ws.wait(lambda m: m["type"] == "alert" and m["alert"]["id"] == FIRE_ID, 5,
                "the fire alarm on the live feed")
    dt = time.monotonic() - t0
    print("fire alarm on the live feed %.0f ms after the simulator flip" % (dt * 1000))
    expect(dt < 1.0, "the fire alarm took %.2f s" % dt)
    expect(m["alert"]["priority"] == 1 and m["alert"]["state"] == "unack", "%r" % m)
    # the sentence people read travels with it (the banner shows it): the zone, the panel
    expect("3" in m["alert"].get("message", "") and "facp1" in m["alert"]["message"],
           "the live alert carries no message: %r" % m)
    r, _, ov = viewer.request("GET", "/api/v1/state/overview")
    expect(ov["safe"] is False and ov["counts"]["P1"] == 1, "overview in fire: %r" % ov)
    fire_panel = [d for d in ov["devices"] if d["id"] == "facp1"][0]
    expect(any(p["point"] == "zone[3].fire" and p["class"] == "fire" for p in fire_panel["on"]),
           "the panel's fire point: %r" % fire_panel)

    # ---- roles through the router ----
    ack = "/api/v1/alerts/%s/ack" % FIRE_ID
    r, _, js = viewer.request("POST", ack, {})
    expect(r.status == 403 and js["error"] == "not_authorized", "viewer ack: %s %r" % (r.status, js))
    r, _, js = insp.request("POST", ack, {})
    expect(r.status == 403 and js["error"] == "not_authorized", "inspector ack: %s %r"
           % (r.status, js))
    r, _, js = op.request("POST", "/api/v1/alerts/%s/shelve" % FIRE_ID,
                          {"reason": "sensor test", "for": 3600})
    expect(r.status == 409 and js["error"] == "not_allowed" and "P1" in js["message"],
           "P1 shelve: %s %r" % (r.status, js))
    r, _, js = op.request("POST", ack, {"user": "mallory"})
    expect(r.status == 200 and js["ok"] and js["alert"]["state"] == "acked"
           and js["alert"]["acked"]["by"] == "olga", "operator ack: %s %r" % (r.status, js))
    r, _, js = admin.request("POST", ack, {})
    expect(r.status == 409 and js["error"] == "no_change", "admin ack again: %s %r"
           % (r.status, js))
    ws.wait(lambda m: m["type"] == "alert" and m["alert"]["state"] == "acked", 5,
            "the ack on the live feed")
    ws.close()
    r, _, js = viewer.request("GET", "/api/v1/alerts")
    expect(r.status == 200 and [a["state"] for a in js["alerts"]] == ["acked"], "list %r" % js)
    # The audit: the router's records carry the console user's name.
    r, _, js = viewer.request("GET", "/api/v1/alerts/history?event=command&limit=50")
    expect(r.status == 200, "history: %s %r" % (r.status, js))
    cmds = [(e["verb"], e["by"], e["result"], e.get("via")) for e in js["events"]]
    for want in (("ack", "olga", "accepted", "http"), ("ack", "victor", "refused", "http"),
                 ("shelve", "olga", "refused", "http")):
        expect(want in cmds, "audit lacks %r: %r" % (want, cmds))
    r, _, js = viewer.request("GET", "/api/v1/alerts/history?device=facp1&priority=1")
    expect(r.status == 200 and js["events"] and
           all(e.get("priority") == 1 for e in js["events"]), "filtered history %r" % js)
    r, _, js = viewer.request("GET", "/api/v1/alerts/history?limit=zero")
    expect(r.status == 400, "a bad filter: %s %r" % (r.status, js))

    # ---- CSRF ----
    r, _, js = op.request("POST", ack, {}, headers={"X-CSRF-Token": "0" * 64})
    expect(r.status == 403 and js["error"] == "csrf", "wrong CSRF: %s %r" % (r.status, js))
    r, _, js = op.request("POST", ack, {}, headers={"X-CSRF-Token": ""})
    expect(r.status == 403 and js["error"] == "csrf", "empty CSRF: %s %r" % (r.status, js))
    r, _, js = op.request("POST", ack, {}, headers={"X-CSRF-Token": admin.csrf})
    expect(r.status == 403, "another session's CSRF: %s" % r.status)

    # ---- a bearer token (operator) for scripts ----
    bearer = Client(b.port)
    r, _, js = bearer.request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + b.token})
    expect(r.status == 200 and js["user"] == "script" and js["role"] == "operator", "%r" % js)
    r, _, js = bearer.request("GET", "/api/v1/me", headers={"Authorization": "Bearer " + "0" * 64})
    expect(r.status == 401, "a wrong token: %s" % r.status)

    # ---- paths never leave the snapshots and recordings folders ----
    snaps = os.path.join(env.tmp, "snapshots")
    os.makedirs(os.path.join(env.tmp, "video", "cam1"), exist_ok=True)
    os.makedirs(snaps, exist_ok=True)
    with open(os.path.join(snaps, "cam1-20261203T000000000Z.jpg"), "wb") as f:
        f.write(b"\xff\xd8fake jpeg\xff\xd9")
    os.symlink("/etc/passwd", os.path.join(snaps, "evil.jpg"))
    with open(os.path.join(env.tmp, "secret.txt"), "w") as f:
        f.write("root:secret\n")
    r, data, _ = viewer.request("GET", "/media/snapshots/cam1-20261203T000000000Z.jpg")
    expect(r.status == 200 and data.startswith(b"\xff\xd8"), "a snapshot: %s" % r.status)
    expect(header(r, "Content-Type") == "image/jpeg", header(r, "Content-Type"))
    bad = ["/media/snapshots/../../../../etc/passwd", "/media/snapshots/%2e%2e/%2e%2e/etc/passwd",
           "/media/snapshots/..%2f..%2f..%2fetc%2fpasswd", "/media/snapshots/%2E%2E%2Fsecret.txt",
           "/media/snapshots/..%2fsecret.txt", "/media/recordings/cam1/..%2f..%2fsecret.txt",
           "/media/recordings/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/media/snapshots/evil.jpg",
           "/media/snapshots/%2fetc%2fpasswd", "/static/..%2f..%2f..%2fetc%2fpasswd",
           "/static/%2e%2e/%2e%2e/etc/passwd", "/../../etc/passwd",
           "/api/v1/cameras/..%2f..%2fetc%2fpasswd/snapshot", "/media/snapshots/%00.jpg"]
    for path in bad:
        r, data, _ = admin.request("GET", path)
        expect(r.status in (400, 404), "%s: %s" % (path, r.status))
        expect(b"root:" not in data, "%s served the file" % path)

    # ---- bounded bodies ----
    r, _, js = op.request("POST", ack, raw=b"{" + b" " * 70000 + b"}",
                          headers={"Content-Type": "application/json"})
    expect(r.status == 413, "an oversized body: %s" % r.status)
    r, _, js = op.request("POST", ack, raw=b"not json",
                          headers={"Content-Type": "application/json"})
    expect(r.status == 400, "a body that is no JSON object: %s" % r.status)
    # A form of another site posts text/plain or a form encoding: refused before anything.
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        r, _, js = op.request("POST", ack, raw=b'{"x":1}', headers={"Content-Type": ctype})
        expect(r.status == 415, "%s body: %s" % (ctype, r.status))
    c = Client(b.port)
    r, _, js = c.request("POST", "/api/v1/login", raw=b'{"user":"olga","password":"x"}',
                         headers={"Content-Type": "text/plain"})
    expect(r.status == 415, "a text/plain login: %s" % r.status)

    # ---- logout ends the session ----
    r, _, _ = insp.request("POST", "/api/v1/logout", {})
    expect(r.status == 200, "logout: %s" % r.status)
    r, _, _ = insp.request("GET", "/api/v1/me")
    expect(r.status == 401, "after logout: %s" % r.status)

    # ---- a burst of bad logins: 429 with Retry-After, for the user and the address ----
    # This address failed once already (olga's wrong password): 4 more, then the lock.
    codes = []
    for i in range(7):
        r, js = Client(b.port).login("victor", "guess-%d" % i)
        codes.append(r.status)
    expect(codes == [401] * 4 + [429] * 3, "burst: %r" % codes)
    r, js = Client(b.port).login("victor", PASSWORDS["victor"])
    expect(r.status == 429 and int(r.getheader("Retry-After")) > 0,
           "the right password during the lock: %s %s" % (r.status, r.getheader("Retry-After")))
    r, js = Client(b.port).login("olga", PASSWORDS["olga"])
    expect(r.status == 429, "the same address, another user: %s" % r.status)
    r, _, _ = viewer.request("GET", "/api/v1/me")
    expect(r.status == 200, "an open session during the lock: %s" % r.status)

    # ---- a reload keeps the console and its sessions; the pages are told to read again ----
    ws = Live(b.port, viewer.cookie)
    ws.wait(lambda m: m["type"] == "hello", 5, "hello before the reload")
    b.gw.proc.send(signal.SIGHUP)
    b.gw.proc.critical = True
    ws.wait(lambda m: m["type"] == "reload", 10, "the reload on the live feed")
    r, _, ov = viewer.request("GET", "/api/v1/state/overview")
    expect(r.status == 200 and ov["counts"]["P1"] == 1, "overview after the reload: %s %r"
           % (r.status, ov))
    r, _, js = op.request("POST", "/api/v1/alerts/%s/ack" % FIRE_ID, {})
    expect(r.status == 409 and js["error"] == "no_change", "ack after the reload: %s %r"
           % (r.status, js))

    # ---- a clean stop with sessions and a live page open ----
    rc = b.gw.stop()
    err = b.gw.proc.stderr_text()
    expect(rc == 0 and "Sanitizer" not in err, "stop: exit %s\n%s" % (rc, err[-2000:]))
    ws.close()


if __name__ == "__main__":
    run(main)
