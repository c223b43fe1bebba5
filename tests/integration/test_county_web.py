"""The county page's API (docs/http.md, "The county page"): a county with county.http on a free
loopback port, ten emulated halls that answer cmd/patrol, and accounts of each role. Without a
session: 401 for the API and a redirect for the page, the login page's assets served; a
login per role; the picture of every hall and one hall's detail with its console link; the live
WebSocket refused without a session and bringing a hall's fire alarm within a second with one;
a viewer may not start a surprise patrol (403), an operator without the CSRF token may not
(403), with it the hall's reply and the patrol's record arrive (the emulator saw the user
property); a hall that does not know the verb answers unknown_verb and the page says so; the
month's ranking; the security headers; logout."""

import os
import time

from county_util import County, Emulator, county_config
from harness import TestFailure, free_port, port_open, run, wait_until
from web_util import Client, Live, hash_password

HALLS = 10
PASSWORDS = {"victor": "viewer-pw-1", "olga": "operator-pw-2", "adam": "admin-pw-4"}
ROLES = {"victor": "viewer", "olga": "operator", "adam": "admin"}
COOKIE = "hw_county="


def expect(cond, msg):
    if not cond:
        raise TestFailure(msg)


def login(port, user):
    c = Client(port)
    r, _, js = c.request("POST", "/api/v1/login", {"user": user, "password": PASSWORDS[user]})
    expect(r.status == 200 and js["role"] == ROLES[user], "login %s: %s %r" % (user, r.status, js))
    for k, v in r.getheaders():
        if k.lower() == "set-cookie" and v.startswith(COOKIE):
            c.cookie = v.split(";", 1)[0]
    expect(c.cookie, "no %s cookie" % COOKIE)
    c.csrf = js["csrf"]
    return c


def county_http(port, halls_console):
    users = ", ".join('{ name = "%s"; role = "%s"; password_hash = "%s"; }'
                      % (u, ROLES[u], hash_password(p)) for u, p in PASSWORDS.items())
    consoles = ", ".join('{ site = "%s"; console = "%s"; }' % kv for kv in halls_console.items())
    return ("  http = { enabled = true; bind = \"127.0.0.1\"; port = %d; users = ( %s ); };\n"
            "  halls = ( %s );\n" % (port, users, consoles))


def start(env, name, patrol, mq_port=None):
    from harness import Mosquitto
    mq = Mosquitto(env) if mq_port is None else None
    port = free_port()
    state = os.path.join(env.tmp, name + "-state")
    pic = os.path.join(env.tmp, name + "-picture.json")
    cfg = county_config(os.path.join(env.tmp, name + ".cfg"), mq.port, state, pic,
                        halls_expected=HALLS, client_id="county-" + name,
                        extra=county_http(port, {"hall-0003": "https://hall-0003.example/"}))
    emu = Emulator(env, mq.port, HALLS, name="emu-" + name,
                   extra=["--inspections", "--patrol", patrol])
    county = County(env, cfg, pic, name=name)
    wait_until(lambda: port_open(port) or not county.proc.alive(), 20, "the county page to listen")
    if not county.proc.alive():
        raise TestFailure("county exited:\n" + county.proc.stderr_text()[-3000:])
    return port, emu, county


def bad_config(env):
    """county.http is read by the console's parser (its errors, file:line); county.halls checked."""
    import subprocess
    from harness import HALLWATCH
    path = os.path.join(env.tmp, "bad.cfg")
    with open(path, "w") as f:
        f.write('county = {\n  state_dir = "%s";\n  http = { enabled = true; port = 0;\n'
                '    colour = "red"; users = ( { name = "a"; role = "boss"; password_hash = "x"; } ); };\n'
                '  halls = ( { site = "h1"; console = "ftp://h1/"; } );\n};\n' % env.tmp)
    r = subprocess.run([HALLWATCH, "county", "-c", path], capture_output=True, text=True, timeout=30)
    err = r.stderr
    expect(r.returncode == 1, "a bad county.http: exit %s" % r.returncode)
    for want in ("bad.cfg:3:", "county.http", "colour", "port", "boss", "county.halls[0].console"):
        expect(want in err, "%r not in the errors:\n%s" % (want, err))


def main(env):
    bad_config(env)
    port, emu, county = start(env, "a", "ok")
    anon = Client(port)

    # ---- without a session ----
    r, _, js = anon.request("GET", "/api/v1/health")
    expect(r.status == 200 and js["mode"] == "county", "health: %s %r" % (r.status, js))
    csp = r.getheader("Content-Security-Policy") or ""
    expect("default-src 'self'" in csp and "unsafe-inline" not in csp, "CSP: %r" % csp)
    expect(r.getheader("X-Frame-Options") == "DENY", "X-Frame-Options")
    for path in ("/api/v1/me", "/api/v1/halls", "/api/v1/halls/hall-0001", "/api/v1/ranking"):
        r, _, js = anon.request("GET", path)
        expect(r.status == 401 and js["error"] == "no_session", "%s: %s %r" % (path, r.status, js))
    r, _, _ = anon.request("POST", "/api/v1/halls/hall-0001/patrol", {})
    expect(r.status == 401, "patrol without a session: %s" % r.status)
    for path in ("/", "/static/county.js"):
        r, _, _ = anon.request("GET", path)
        expect(r.status == 303 and (r.getheader("Location") or "").endswith("/login"),
               "%s without a session: %s" % (path, r.status))
    for path in ("/login", "/static/login.js", "/static/style.css", "/static/i18n.js",
                 "/static/county-i18n.js", "/static/county.css"):
        r, data, _ = anon.request("GET", path)
        expect(r.status == 200 and data, "%s: %s" % (path, r.status))
    live = Live(port, None)
    expect(live.status == 401, "live without a session: %s" % live.status)
    live.close()
    r, _, js = anon.request("POST", "/api/v1/login", {"user": "olga", "password": "wrong"})
    expect(r.status == 401 and js["error"] == "bad_login", "bad login: %s %r" % (r.status, js))

    # ---- sessions ----
    viewer, operator = login(port, "victor"), login(port, "olga")
    r, data, _ = viewer.request("GET", "/")
    expect(r.status == 200 and b"county.js" in data and b"<script>" not in data, "index")
    r, _, pic = viewer.request("GET", "/api/v1/halls")
    expect(r.status == 200, "halls: %s" % r.status)
    wait_until(lambda: viewer.request("GET", "/api/v1/halls")[2]["summary"]["online"] == HALLS,
               20, "every hall online in the picture")
    r, _, h = viewer.request("GET", "/api/v1/halls/hall-0003")
    expect(r.status == 200 and h["site"] == "hall-0003" and h["devices"]["total"] == 2
           and h["console"] == "https://hall-0003.example/", "hall detail: %r" % h)
    # the drill-down: the hall's devices, cameras and plans as lists (docs/county.md)
    d = h.get("detail") or {}
    devs = {x["id"]: x for x in d.get("devices", [])}
    cams = {x["id"]: x for x in d.get("cameras", [])}
    plans = {x["plan"]: x for x in d.get("plans", [])}
    expect(len(devs) == 2 and devs.get("facp1", {}).get("online") is True
           and devs["facp1"].get("quality") == "good", "detail devices: %r" % d.get("devices"))
    expect(cams and all(c["online"] and c["recording"] for c in cams.values()),
           "detail cameras: %r" % d.get("cameras"))
    expect(plans.get("fire_patrol", {}).get("passed") == 3
           and plans["fire_patrol"].get("next_due"), "detail plans: %r" % d.get("plans"))
    expect(isinstance(d.get("tickets"), list) and isinstance(d.get("records"), list)
           and d.get("dropped", {}).get("devices") == 0, "detail tickets/records: %r" % d)
    r, _, h = viewer.request("GET", "/api/v1/halls/hall-9999")
    expect(r.status == 404, "unknown hall: %s" % r.status)

    # ---- the live feed: a fire alarm within a second ----
    live = Live(port, viewer.cookie)
    expect(live.status == 101, "live: %s" % live.status)
    live.wait(lambda m: m["type"] == "hello", 5, "hello")
    t0 = time.monotonic()
    sent = emu.cmd("fire hall-0005")
    m = live.wait(lambda m: m["type"] == "alarm" and m["item"]["site"] == "hall-0005"
                  and m["item"]["type"] == "fire", 5, "the fire alarm on the live feed")
    lat = m["t_send_us"] - sent["t_pub_us"]
    expect(lat < 1000000 and time.monotonic() - t0 < 5, "fire alarm latency %d us" % lat)
    print("fire alarm: emulator publish -> page WebSocket send: %.1f ms" % (lat / 1000))
    live.wait(lambda m: m["type"] == "hall" and m["hall"]["site"] == "hall-0005"
              and m["hall"]["worst"] == "fire", 5, "hall-0005's tile turning fire")

    # ---- the surprise patrol: roles, CSRF, the reply and the record ----
    r, _, js = viewer.request("POST", "/api/v1/halls/hall-0002/patrol", {})
    expect(r.status == 403 and js["error"] == "forbidden", "viewer patrol: %s %r" % (r.status, js))
    r, _, js = operator.request("POST", "/api/v1/halls/hall-0002/patrol", {},
                                headers={"X-CSRF-Token": "0" * 64})
    expect(r.status == 403 and js["error"] == "csrf", "patrol without CSRF: %s %r" % (r.status, js))
    expect(not emu.lines(lambda j: "patrol" in j), "a refused patrol reached a hall")
    r, _, js = operator.request("POST", "/api/v1/halls/hall-0002/patrol", {})
    expect(r.status == 200 and js["ok"] and js["reply"]["ok"]
           and js["reply"]["task"].startswith("video_patrol/"), "patrol: %s %r" % (r.status, js))
    seen = emu.lines(lambda j: "patrol" in j)
    expect(len(seen) == 1 and seen[0]["patrol"] == "hall-0002" and seen[0]["user"] == "olga"
           and seen[0]["response_topic"].startswith("hallwatch/v1/hall-0002/reply/"),
           "the hall saw: %r" % seen)
    live.wait(lambda m: m["type"] == "record" and m["record"]["site"] == "hall-0002"
              and m["record"]["task"] == js["reply"]["task"], 5, "the patrol's record")
    r, _, js = operator.request("POST", "/api/v1/halls/no%2Fsuch/patrol", {})
    expect(r.status in (400, 404), "bad site: %s" % r.status)

    # ---- the ranking ----
    r, _, js = viewer.request("GET", "/api/v1/ranking")
    expect(r.status == 200 and js["ok"] and len(js["rows"]) == HALLS
           and js["rows"][0]["rank"] == 1, "ranking: %s %r" % (r.status, js))
    r, _, js = viewer.request("GET", "/api/v1/ranking?month=2026-13")
    expect(r.status == 400, "bad month: %s" % r.status)

    # ---- logout ----
    r, _, _ = viewer.request("POST", "/api/v1/logout", {})
    expect(r.status == 200, "logout: %s" % r.status)
    r, _, _ = viewer.request("GET", "/api/v1/me")
    expect(r.status == 401, "after logout: %s" % r.status)
    live.close()

    # ---- a hall without the verb: unknown_verb, said on the page ----
    port2, emu2, county2 = start(env, "b", "refuse")
    op2 = login(port2, "adam")
    wait_until(lambda: op2.request("GET", "/api/v1/halls/hall-0001")[0].status == 200, 20,
               "hall-0001 known")
    r, _, js = op2.request("POST", "/api/v1/halls/hall-0001/patrol", {})
    expect(r.status == 200 and not js["ok"] and js["reply"]["error"] == "unknown_verb",
           "refused patrol: %s %r" % (r.status, js))
    county.stop()
    county2.stop()


if __name__ == "__main__":
    run(main)
