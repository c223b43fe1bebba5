"""The console's figures (docs/benchmarks.md, "Web console"): page weight transferred on a
first load of each page, API latency p50/p99 with 20 concurrent clients, the time from a
simulator flip to the fire alarm drawn in headless Chromium (p50/p99 over FLIPS flips), and
the daemon's CPU and RSS with 50 open pages (50 live WebSocket clients, each polling the
overview API every 5 s as a page's reload would: a stand-in for 50 browsers).

    HW_SRC=$PWD HW_BUILD=$PWD/build /usr/bin/python3 bench/web_bench.py [FLIPS]
"""

import html.parser
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from harness import Env, wait_until  # noqa: E402
from web_util import FIRE_ID, PASSWORDS, ROOT, Bench, Client, Live  # noqa: E402

BROWSER = os.path.join(HERE, "..", "tests", "browser")


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


class Refs(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("src"):
            self.refs.append(a["src"])
        if tag == "link" and a.get("href"):
            self.refs.append(a["href"])


def page_weight(c):
    """Bytes of each page, its scripts, styles and icon, and what its first API calls return."""
    first_api = {"/": ["me", "alerts", "state/overview", "tasks"],
                 "/alerts": ["me", "alerts", "alerts/history?limit=100"],
                 "/devices": ["me", "alerts", "devices"],
                 "/cameras": ["me", "alerts", "cameras"],
                 "/patrols": ["me", "alerts", "tasks", "records?limit=50", "tickets?limit=100"]}
    rows = []
    for page, apis in first_api.items():
        r, data, _ = c.request("GET", page)
        assert r.status == 200, (page, r.status)
        p = Refs()
        p.feed(data.decode())
        static = len(data)
        for ref in p.refs:
            static += len(c.request("GET", ref)[1])
        api = sum(len(c.request("GET", "/api/v1/" + a)[1]) for a in apis)
        rows.append((page, static, api))
    return rows


def api_latency(port, clients=20, per_client=100):
    out = []
    lock = threading.Lock()
    cs = []
    for _ in range(clients):
        c = Client(port)
        c.login("victor", PASSWORDS["victor"])
        cs.append(c)

    def work(c):
        mine = []
        for i in range(per_client):
            path = ("/api/v1/state/overview", "/api/v1/devices", "/api/v1/alerts")[i % 3]
            t = time.perf_counter()
            r, _, _ = c.request("GET", path)
            mine.append((path, (time.perf_counter() - t) * 1000, r.status))
        with lock:
            out.extend(mine)

    th = [threading.Thread(target=work, args=(c,)) for c in cs]
    t0 = time.perf_counter()
    for t in th:
        t.start()
    for t in th:
        t.join()
    wall = time.perf_counter() - t0
    return out, wall


def cpu_rss(pid, seconds):
    def ticks():
        with open("/proc/%d/stat" % pid) as f:
            x = f.read().rsplit(")", 1)[1].split()
        return int(x[11]) + int(x[12])

    def rss():
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    hz = os.sysconf("SC_CLK_TCK")
    a, t0 = ticks(), time.monotonic()
    time.sleep(seconds)  # a measuring window, not a synchronisation
    b, t1 = ticks(), time.monotonic()
    return 100.0 * (b - a) / hz / (t1 - t0), rss()


def pages_load(b, n=50, seconds=30):
    stop = threading.Event()
    lives = []
    clients = []
    for i in range(n):
        c = Client(b.port)
        c.login("victor", PASSWORDS["victor"])
        clients.append(c)
        lives.append(Live(b.port, c.cookie))
    assert all(lv.status == 101 for lv in lives), [lv.status for lv in lives]
    got = [0]

    def drain(lv):
        while not stop.is_set():
            try:
                if lv.next(1) is not None:
                    got[0] += 1
            except Exception:  # noqa: BLE001 - the feed closed: the page is gone
                return

    def poll(c, k):
        stop.wait(k * 0.1)
        while not stop.is_set():
            c.request("GET", "/api/v1/state/overview")
            stop.wait(5)

    th = [threading.Thread(target=drain, args=(lv,), daemon=True) for lv in lives]
    th += [threading.Thread(target=poll, args=(c, k), daemon=True) for k, c in enumerate(clients)]
    for t in th:
        t.start()
    idle_cpu, idle_rss = None, None
    cpu, rss = cpu_rss(b.gw.proc.pid, seconds)
    stop.set()
    for lv in lives:
        lv.close()
    return cpu, rss, got[0]


def flips_in_browser(b, flips):
    p = subprocess.Popen(["/usr/bin/node", os.path.join(HERE, "web_flip.mjs")], cwd=BROWSER,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                         env=dict(os.environ, HW_URL=b.url(), HW_USER="olga",
                                  HW_PASSWORD=PASSWORDS["olga"], HW_PLAYWRIGHT=os.path.join(
                                      BROWSER, "node_modules", "playwright-core")))
    op = Client(b.port)
    op.login("olga", PASSWORDS["olga"])
    lat = []
    try:
        for i in range(flips):
            line = p.stdout.readline().strip()
            assert line == "READY", line
            t = int(time.time() * 1000)
            b.fire(True)
            p.stdin.write("FIRED %d\n" % t)
            p.stdin.flush()
            line = p.stdout.readline().strip()
            assert line.startswith("DRAWN "), line
            lat.append(int(line.split()[1]) - t)
            b.fire(False)
            b.watch.wait_json(ROOT + "alert/" + FIRE_ID, lambda j: not j.get("active", True),
                              15, "the zone back to normal")
            r, _, js = op.request("POST", "/api/v1/alerts/%s/ack" % FIRE_ID, {})
            assert r.status == 200, (r.status, js)
        p.stdin.write("DONE\n")
        p.stdin.flush()
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return lat


def main():
    flips = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    with Env("web-bench") as env:
        b = Bench(env)
        c = Client(b.port)
        c.login("victor", PASSWORDS["victor"])
        time.sleep(3)  # a few history samples and polls: the pages show data
        print("## page weight on a first load (bytes; no compression, Cache-Control: no-store)")
        print("| page | HTML, scripts, styles, icon | first API answers | total |")
        print("|---|---|---|---|")
        for page, st, api in page_weight(c):
            print("| %s | %d | %d | %d |" % (page, st, api, st + api))
        lat, wall = api_latency(b.port)
        print("\n## API latency, 20 concurrent clients, %d requests in %.1f s (%.0f req/s)"
              % (len(lat), wall, len(lat) / wall))
        print("| request | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|")
        for path in sorted(set(x[0] for x in lat)):
            v = [x[1] for x in lat if x[0] == path]
            assert all(x[2] == 200 for x in lat if x[0] == path)
            print("| GET %s | %.2f | %.2f | %.2f |" % (path, pct(v, 50), pct(v, 99), max(v)))
        v = [x[1] for x in lat]
        print("| all | %.2f | %.2f | %.2f |" % (pct(v, 50), pct(v, 99), max(v)))
        lat = flips_in_browser(b, flips)
        print("\n## simulator flip -> fire banner drawn in Chromium, %d flips" % len(lat))
        print("p50 %d ms, p99 %d ms, max %d ms (all: %s)" % (pct(lat, 50), pct(lat, 99), max(lat),
                                                       " ".join(map(str, lat))))
        idle_cpu, idle_rss = cpu_rss(b.gw.proc.pid, 10)
        cpu, rss, msgs = pages_load(b)
        print("\n## 50 open pages (50 live WebSockets, each polling the overview every 5 s), 30 s")
        print("| | CPU % of one core | RSS MiB |")
        print("|---|---|---|")
        print("| no page open | %.1f | %.1f |" % (idle_cpu, idle_rss / 1024.0))
        print("| 50 pages | %.1f | %.1f |" % (cpu, rss / 1024.0))
        print("(%d live messages delivered to the 50 pages)" % msgs)
        b.gw.stop()


if __name__ == "__main__":
    main()
