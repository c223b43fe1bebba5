"""VictoriaMetrics (Debian's victoria-metrics) on a free loopback port, its data in the
test folder: the line protocol receiver beside InfluxDB (docs/lineproto.md)."""

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import Proc, TestFailure, free_port, wait_until

VICTORIA = "/usr/bin/victoria-metrics"


class Victoria:
    def __init__(self, env):
        self.env = env
        self.port = free_port()
        self.data = os.path.join(env.tmp, "victoria-data")
        t0 = time.monotonic()
        self.proc = env.add(Proc("victoria-metrics", [
            VICTORIA, "-httpListenAddr", "127.0.0.1:%d" % self.port,
            "-storageDataPath", self.data, "-loggerLevel", "WARN",
            # hallwatch's points are stamped now; keep the default retention (one month)
            "-retentionPeriod", "1"], env.tmp))

        def ready():
            if not self.proc.alive():
                raise TestFailure("victoria-metrics exited: " + self.proc.stderr_text()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False
        wait_until(ready, 20, "victoria-metrics /health")
        self.startup_s = time.monotonic() - t0

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def export(self, match):
        """Every series matching the selector: a list of {"metric", "values", "timestamps"}."""
        q = urllib.parse.urlencode({"match[]": match})
        with urllib.request.urlopen("%s/api/v1/export?%s" % (self.url, q), timeout=5) as r:
            return [json.loads(line) for line in r.read().decode().splitlines() if line.strip()]

    def values(self, match):
        """The values of the one series matching match, oldest first ([] when none)."""
        series = self.export(match)
        if len(series) > 1:
            raise TestFailure("%s matches %d series: %r" % (match, len(series),
                                                            [s["metric"] for s in series]))
        if not series:
            return []
        pairs = sorted(zip(series[0]["timestamps"], series[0]["values"]))
        return [v for _, v in pairs]

    def write(self, body):
        """POSTs line protocol as hallwatch does; returns the HTTP status."""
        req = urllib.request.Request("%s/write?db=hallwatch&precision=ns" % self.url,
                                     data=body.encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
