"""The county page's fire alarm latency: N emulated halls (tests/tools/hall_emulator.py, one
MQTT connection per hall) on one mosquitto, the county with its page (county.http), and one
logged-in page's live WebSocket (/api/v1/live, read here in Python as a browser would). FIRES
fire alarms at random halls, one at a time (each cleared before the next); the latency is from
the emulator's publish (t_pub_us in the event) to the WebSocket message's receipt here, and
to the county's send (t_send_us), p50 / p99 / max. Also the county's CPU and RSS at the end.

    HW_SRC=$PWD HW_BUILD=$PWD/build /usr/bin/python3 bench/county_page_bench.py HALLS [FIRES]

Prints a markdown row and a JSON summary (docs/benchmarks.md).
"""

import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from county_util import County, Emulator, county_config  # noqa: E402
from harness import Env, Mosquitto, free_port, port_open, wait_until  # noqa: E402
from web_util import Client, Live, hash_password  # noqa: E402


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def main():
    halls = int(sys.argv[1])
    fires = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    env = Env("county_page_bench")
    try:
        mq = Mosquitto(env)
        port = free_port()
        http = ('  http = { enabled = true; bind = "127.0.0.1"; port = %d; users = ( '
                '{ name = "duty"; role = "viewer"; password_hash = "%s"; } ); };\n'
                % (port, hash_password("bench-pw")))
        cfg = county_config(os.path.join(env.tmp, "county.cfg"), mq.port,
                            os.path.join(env.tmp, "state"), "", halls_expected=halls,
                            tick_ms=1000, flush_s=60, extra=http + "  feed_stdout = false;\n")
        emu = Emulator(env, mq.port, halls)
        county = County(env, cfg, "")
        wait_until(lambda: port_open(port), 30, "the county page")
        c = Client(port)
        r, _, js = c.request("POST", "/api/v1/login", {"user": "duty", "password": "bench-pw"})
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("hw_county="):
                c.cookie = v.split(";", 1)[0]
        wait_until(lambda: c.request("GET", "/api/v1/halls")[2]["summary"]["online"] == halls,
                   120, "every hall online")
        live = Live(port, c.cookie)
        live.wait(lambda m: m["type"] == "hello", 5, "hello")
        # Messages stamped on arrival by a thread of their own (the emulator's answer is
        # read by polling; the receipt must not wait for it).
        import queue
        import threading
        got = queue.Queue()
        stop = threading.Event()

        def reader():
            while not stop.is_set():
                try:
                    m = live.next(0.2)
                except EOFError:
                    return
                if m is not None:
                    got.put((time.time() * 1e6, m))
        th = threading.Thread(target=reader, daemon=True)
        th.start()

        def wait_msg(pred, what):
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    t, m = got.get(timeout=0.5)
                except queue.Empty:
                    continue
                if pred(m):
                    return t, m
            raise AssertionError("no " + what)
        rnd = random.Random(1)
        recv, send = [], []
        for _ in range(fires):
            time.sleep(0.1)  # pacing, as bench/county_bench.py: one alarm at a time
            site = "hall-%04d" % rnd.randint(1, halls)
            sent = emu.cmd("fire " + site)
            now_us, m = wait_msg(lambda m: m["type"] == "alarm" and m["item"]["site"] == site
                                 and m["item"]["type"] == "fire", "fire alarm of " + site)
            recv.append((now_us - sent["t_pub_us"]) / 1000.0)
            send.append((m["t_send_us"] - sent["t_pub_us"]) / 1000.0)
            emu.cmd("clear " + site)
            wait_msg(lambda m: m["type"] == "alarm" and m["item"]["site"] == site
                     and m["item"]["type"] == "fire_cleared", "clear of " + site)
        rss = rss_mb(county.proc.p.pid)
        row = ("| %d | %d | %.1f / %.1f / %.1f ms | %.1f / %.1f ms | %.1f MB |"
               % (halls, fires, pct(recv, 50), pct(recv, 99), max(recv), pct(send, 50),
                  pct(send, 99), rss))
        print("| halls | alarms | publish → page WebSocket p50 / p99 / max | publish → county send p50 / p99 | county RSS |")
        print("|---|---|---|---|---|")
        print(row)
        print(json.dumps({"halls": halls, "fires": fires, "recv_p50": pct(recv, 50),
                          "recv_p99": pct(recv, 99), "recv_max": max(recv),
                          "send_p50": pct(send, 50), "send_p99": pct(send, 99), "rss_mb": rss}))
        stop.set()
        th.join()
        live.close()
        county.stop()
        emu.stop()
    finally:
        env.close()


if __name__ == "__main__":
    main()
