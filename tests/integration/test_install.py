"""The install: `cmake --install` into a DESTDIR with the prefix /usr puts the binary, the
profiles, the example configuration, the systemd unit, its sysusers.d entry, the docs and the
man page in their FHS places; the installed binary accepts the installed example with the
installed profiles (check-config; and the README's own check-config line with the install
laid over /usr and /etc in a mount namespace), the unit and the sysusers entry are valid for systemd, and
the man page describes every subcommand `hallwatch --help` lists.

The installed configuration names /usr/share/hallwatch/profiles (site.profile_dir); the test
checks that, then runs check-config on a copy whose profile_dir names the same folder inside
the DESTDIR, the only line that differs."""

import os
import re
import shutil
import stat
import subprocess

from harness import BUILD, HALLWATCH, SRC, TestFailure, run

PROFILE_DIR_RE = re.compile(r'^(\s*profile_dir\s*=\s*)"([^"]*)"', re.M)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def setting(text, key):
    m = re.search(r'^\s*%s\s*=\s*"([^"]*)"' % re.escape(key), text, re.M)
    return m.group(1) if m else None


def help_subcommands():
    """The subcommands `hallwatch --help` lists, in its order."""
    r = subprocess.run([HALLWATCH, "--help"], capture_output=True, text=True, timeout=10)
    verbs = []
    for line in (r.stdout + r.stderr).splitlines():
        m = re.match(r"^\s*(?:usage:)?\s*hallwatch\s+([a-z][a-z0-9-]*)\b", line)
        if m and m.group(1) not in verbs:
            verbs.append(m.group(1))
    if len(verbs) < 3:
        # a table of commands instead: "  run    the daemon ..."
        for line in (r.stdout + r.stderr).splitlines():
            m = re.match(r"^\s+([a-z][a-z0-9-]*)(\s{2,}|\s*$)", line)
            if m and m.group(1) not in verbs:
                verbs.append(m.group(1))
    if len(verbs) < 3:
        raise TestFailure("hallwatch --help lists no subcommands: %r" % (r.stdout + r.stderr))
    return verbs


def man_subcommands(text):
    """The subcommands with a .TP block under .SH COMMANDS."""
    m = re.search(r"^\.SH COMMANDS\n(.*?)^\.SH ", text, re.M | re.S)
    if not m:
        raise TestFailure("the man page has no COMMANDS section")
    return re.findall(r"^\.TP\n\.B ([a-z][a-z0-9\\-]*)", m.group(1), re.M)


def check_man(path):
    text = read(path)
    documented = [v.replace("\\-", "-") for v in man_subcommands(text)]
    missing = [v for v in help_subcommands() if v not in documented]
    if missing:
        raise TestFailure("hallwatch(1) does not describe %s (COMMANDS of docs/hallwatch.1)" % missing)
    print("hallwatch(1) describes: %s" % " ".join(documented))
    if shutil.which("groff"):
        r = subprocess.run(["groff", "-man", "-ww", "-z", path], capture_output=True, text=True, timeout=30)
        if r.returncode != 0 or r.stderr.strip():
            raise TestFailure("groff warns about hallwatch.1: %s" % r.stderr)


def check_unit(root, tmp):
    unit = os.path.join(root, "usr/lib/systemd/system/hallwatch.service")
    text = read(unit)
    want = {
        "ExecStart": "/usr/bin/hallwatch run -c /etc/hallwatch/hallwatch.cfg",
        "User": "hallwatch",
        "StateDirectory": "hallwatch",
        "Type": "notify",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
    }
    for key, value in want.items():
        if not re.search(r"^%s=%s$" % (key, re.escape(value)), text, re.M):
            raise TestFailure("hallwatch.service: no %s=%s" % (key, value))
    if not os.access(os.path.join(root, "usr/bin/hallwatch"), os.X_OK):
        raise TestFailure("ExecStart's binary is not installed")
    if shutil.which("systemd-analyze"):
        # The unit as systemd reads it, its binary taken from the DESTDIR.
        copy = os.path.join(tmp, "hallwatch.service")
        with open(copy, "w") as f:
            f.write(text.replace("/usr/bin/hallwatch", os.path.join(root, "usr/bin/hallwatch")))
        r = subprocess.run(["systemd-analyze", "verify", "--man=no", copy],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0 or r.stderr.strip():
            raise TestFailure("systemd-analyze verify: %s" % r.stderr)
    sysusers = os.path.join(root, "usr/lib/sysusers.d/hallwatch.conf")
    if shutil.which("systemd-sysusers"):
        sysroot = os.path.join(tmp, "sysroot")
        os.makedirs(os.path.join(sysroot, "etc"))
        r = subprocess.run(["systemd-sysusers", "--root=" + sysroot, sysusers],
                           capture_output=True, text=True, timeout=30)
        passwd = os.path.join(sysroot, "etc/passwd")
        line = [l for l in read(passwd).splitlines() if l.startswith("hallwatch:")] if os.path.exists(passwd) else []
        if r.returncode != 0 or len(line) != 1:
            raise TestFailure("systemd-sysusers made no user hallwatch: %s %r" % (r.stderr, line))
        if not line[0].endswith(":/var/lib/hallwatch:/usr/sbin/nologin"):
            raise TestFailure("the hallwatch user: %r" % line[0])
    elif "u hallwatch " not in read(sysusers):
        raise TestFailure("sysusers.d/hallwatch.conf creates no user hallwatch")


def check_config(root, tmp, hallwatch):
    """The installed example names the installed profiles and state dir, and is accepted."""
    cfg = os.path.join(root, "etc/hallwatch/hallwatch.cfg")
    text = read(cfg)
    m = PROFILE_DIR_RE.search(text)
    if not m or m.group(2) != "/usr/share/hallwatch/profiles":
        raise TestFailure("the installed example's profile_dir: %r" % (m and m.group(2)))
    if setting(text, "state_dir") != "/var/lib/hallwatch":
        raise TestFailure("the installed example's state_dir: %r" % setting(text, "state_dir"))
    profiles = os.path.join(root, "usr/share/hallwatch/profiles")
    shipped = sorted(f for f in os.listdir(os.path.join(SRC, "etc", "profiles")) if f.endswith(".cfg"))
    if sorted(os.listdir(profiles)) != shipped:
        raise TestFailure("installed profiles %r, shipped %r" % (sorted(os.listdir(profiles)), shipped))
    copy = os.path.join(tmp, "hallwatch.cfg")
    with open(copy, "w") as f:
        f.write(PROFILE_DIR_RE.sub(lambda mm: '%s"%s"' % (mm.group(1), profiles), text, count=1))
    r = subprocess.run([hallwatch, "check-config", "-c", copy], capture_output=True, text=True, timeout=30)
    print("installed check-config: %s%s" % (r.stdout.strip(), r.stderr.strip()))
    if r.returncode != 0 or not re.search(r": ok \(site hall-demo, \d+ bus\(es\), [1-9]\d* device\(s\)", r.stdout):
        raise TestFailure("check-config on the installed example failed (%d): %s %s"
                          % (r.returncode, r.stdout, r.stderr))
    if not os.path.isdir("/usr/share/hallwatch/profiles"):
        # As installed, it looks for the profiles in /usr/share/hallwatch/profiles, not here.
        r = subprocess.run([hallwatch, "check-config", "-c", cfg], capture_output=True, text=True, timeout=30)
        if r.returncode != 1 or "/usr/share/hallwatch/profiles/" not in r.stderr:
            raise TestFailure("the installed example does not use /usr/share/hallwatch/profiles: %s"
                              % r.stderr)


def check_readme(root):
    """The README's `hallwatch check-config` line, run as written, in a mount namespace
    where the DESTDIR lies over /usr and /etc (overlayfs; root only)."""
    readme = read(os.path.join(SRC, "README.md"))
    m = re.search(r"^## Running it\n.*?```sh\n(.*?)```", readme, re.M | re.S)
    if not m:
        raise TestFailure("README.md has no Running it commands")
    lines = [l.split("#")[0].strip() for l in m.group(1).splitlines()]
    cmd = [l for l in lines if l.startswith("hallwatch check-config ")]
    if len(cmd) != 1 or "/etc/hallwatch/hallwatch.cfg" not in cmd[0]:
        raise TestFailure("README.md's Running it has no check-config of /etc/hallwatch: %r" % lines)
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("README check skipped: needs root and unshare")
        return
    script = ("mount -t overlay overlay -o lowerdir=%s/usr:/usr /usr && "
              "mount -t overlay overlay -o lowerdir=%s/etc:/etc /etc || exit 99; "
              "man -w hallwatch && %s" % (root, root, cmd[0]))
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=60)
    if r.returncode == 99:
        print("README check skipped: no overlayfs here: %s" % r.stderr.strip())
        return
    print("as the README says, after the install: %s -> %s" % (cmd[0], r.stdout.strip().replace("\n", "; ")))
    if r.returncode != 0 or "/usr/share/man/man1/hallwatch.1" not in r.stdout or ": ok (site hall-demo" not in r.stdout:
        raise TestFailure("the README's %r after the install (%d): %s %s" % (cmd[0], r.returncode, r.stdout, r.stderr))


def main(env):
    root = os.path.join(env.tmp, "root")
    e = dict(os.environ, DESTDIR=root)
    r = subprocess.run(["cmake", "--install", BUILD, "--prefix", "/usr"], env=e,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise TestFailure("cmake --install failed: %s %s" % (r.stdout[-2000:], r.stderr[-2000:]))
    for rel, mode in [("usr/bin/hallwatch", 0o755), ("etc/hallwatch/hallwatch.cfg", 0o644),
                      ("usr/lib/systemd/system/hallwatch.service", 0o644),
                      ("usr/lib/sysusers.d/hallwatch.conf", 0o644),
                      ("usr/share/man/man1/hallwatch.1", 0o644),
                      ("usr/share/doc/hallwatch/README.md", 0o644),
                      ("usr/share/doc/hallwatch/configuration.md", 0o644),
                      ("usr/share/hallwatch/profiles/facp-generic.cfg", 0o644)]:
        p = os.path.join(root, rel)
        if not os.path.isfile(p):
            raise TestFailure("not installed: /%s" % rel)
        if stat.S_IMODE(os.stat(p).st_mode) != mode:
            raise TestFailure("/%s has mode %o, want %o" % (rel, stat.S_IMODE(os.stat(p).st_mode), mode))
    hallwatch = os.path.join(root, "usr/bin/hallwatch")
    r = subprocess.run([hallwatch, "version"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0 or not r.stdout.startswith("hallwatch "):
        raise TestFailure("the installed binary: %r %r" % (r.stdout, r.stderr))
    check_config(root, env.tmp, hallwatch)
    check_unit(root, env.tmp)
    check_man(os.path.join(root, "usr/share/man/man1/hallwatch.1"))
    check_readme(root)


if __name__ == "__main__":
    run(main)
