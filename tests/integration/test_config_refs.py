"""check-config refuses a configuration whose references lead nowhere (issue 12, item 7):
a camera's alert_points naming a device that does not exist, a zone beyond the profile's
range and a point the profile does not have; each error names FILE:LINE and the bad name,
and the exit status is 1. The same file with the references put right is accepted."""

import os
import subprocess

from harness import HALLWATCH, TestFailure, gateway_config, run

BAD = [
    ("facp9:zone[3].fire", 'unknown device "facp9"'),
    ("facp1:zone[128].fire", 'zone 128 is out of range: profile "facp-generic" has zone[0] .. zone[127]'),
    ("facp1:zone[3].fier", 'profile "facp-generic" has no point "fier" in block "zone"'),
]


def config(points, rule_point):
    text = gateway_config("refs", buses=[("bus1", 1502)],
                          devices=[{"id": "facp1", "bus": "bus1", "unit": 1, "profile": "facp-generic"}])
    lines = ['cameras = ( { id = "cam1"; url = "rtsp://127.0.0.1:8554/cam";',
             "  alert_points = ["]
    lines += ['    "%s"%s' % (p, "," if i + 1 < len(points) else "") for i, p in enumerate(points)]
    lines += ["  ]; } );",
              'rules = ( { name = "r1"; device = "facp1"; point = "%s"; equals = 1; } );' % rule_point]
    first = text.count("\n") + 3  # the line of the first alert point
    return text + "\n".join(lines) + "\n", first


def check(path):
    return subprocess.run([HALLWATCH, "check-config", "-c", path], capture_output=True, text=True,
                          timeout=20)


def main(env):
    path = os.path.join(env.tmp, "refs.cfg")
    text, first = config([p for p, _ in BAD], "zone[*].fier")
    with open(path, "w") as f:
        f.write(text)
    r = check(path)
    if r.returncode != 1:
        raise TestFailure("check-config exited %d on dangling references (want 1): %s"
                          % (r.returncode, r.stdout + r.stderr))
    errs = r.stderr.strip().splitlines()
    for i, (point, why) in enumerate(BAD):
        want = '%s:%d: camera "cam1": alert_points "%s": %s' % (path, first + i, point, why)
        if want not in errs:
            raise TestFailure("missing error %r in %r" % (want, errs))
    want = '%s:%d: rule "r1": point "zone[*].fier" matches no point of device "facp1"' % (
        path, first + len(BAD) + 1)
    if want not in errs:
        raise TestFailure("missing error %r in %r" % (want, errs))
    if len(errs) != len(BAD) + 1:
        raise TestFailure("expected %d errors, got %r" % (len(BAD) + 1, errs))

    good, _ = config(["facp1:zone[3].fire", "facp1:zone[127].fire"], "zone[*].fire")
    with open(path, "w") as f:
        f.write(good)
    r = check(path)
    if r.returncode != 0:
        raise TestFailure("check-config refused good references: %s" % r.stderr)


if __name__ == "__main__":
    run(main)
