"""Delivery benchmarks (docs/benchmarks.md, "Delivery"): starts influxd and mosquitto on
loopback with the test harness and runs build/hw-bench-outbox against them.
    /usr/bin/python3 bench/outbox_bench.py [BUILD_DIR]"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import Env, Influxd, Mosquitto  # noqa: E402

BUILD = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "build")
TOOL = os.path.join(BUILD, "hw-bench-outbox")


def main():
    with Env("outbox-bench") as env:
        d = os.path.join(env.tmp, "state")
        os.makedirs(d)
        subprocess.run([TOOL, "throughput", d, "20000"], check=True)
        influx = Influxd(env)
        subprocess.run([TOOL, "drain", d, influx.url, "100", "10"], check=True)
        rows = influx.rows("SELECT COUNT(value) FROM device_point")
        print("influxdb: %s device_point values stored" % (rows[0]["count"] if rows else 0))
        broker = Mosquitto(env)
        subprocess.run([TOOL, "p1", d, str(broker.port), "10000"], check=True)


if __name__ == "__main__":
    main()
