"""The Debian package: `cpack -G DEB` from the build directory makes a .deb that holds the
binary, the unit, the sysusers.d entry, the profiles, the example configuration (a conffile),
the docs and the man page; its Depends name the package of every shared library the binary
loads (as ldd resolves them on this machine) and the GStreamer plugins; its postinst creates
the user (run against the unpacked tree). The packaged binary accepts the packaged example with the packaged profiles."""

import glob
import os
import re
import shutil
import subprocess

from harness import BUILD, TestFailure, run


def package_of(path):
    """The Debian package that owns a file, or None."""
    candidates = {path, os.path.realpath(path)}
    for p in list(candidates):
        if p.startswith("/usr/lib/"):
            candidates.add(p[len("/usr"):])
        elif p.startswith("/lib/"):
            candidates.add("/usr" + p)
    for p in candidates:
        r = subprocess.run(["dpkg-query", "-S", p], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            return r.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def main(env):
    if not shutil.which("dpkg-deb"):
        raise TestFailure("dpkg-deb is missing: scripts/install-deps.sh installs dpkg-dev")
    out = os.path.join(env.tmp, "pkg")
    r = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"),
                        "-B", out], cwd=BUILD, capture_output=True, text=True, timeout=280)
    debs = glob.glob(os.path.join(out, "hallwatch_*.deb"))
    if r.returncode != 0 or len(debs) != 1:
        raise TestFailure("cpack -G DEB failed (%d): %s %s" % (r.returncode, r.stdout[-3000:], r.stderr[-3000:]))
    deb = debs[0]
    print("package: %s (%d bytes)" % (os.path.basename(deb), os.path.getsize(deb)))

    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, timeout=30).stdout
    files = {l.split()[5]: l.split()[0] for l in listing.splitlines() if len(l.split()) >= 6}
    for f, mode in [("./usr/bin/hallwatch", "-rwxr-xr-x"),
                    ("./usr/lib/systemd/system/hallwatch.service", "-rw-r--r--"),
                    ("./usr/lib/sysusers.d/hallwatch.conf", "-rw-r--r--"),
                    ("./usr/share/hallwatch/profiles/facp-generic.cfg", "-rw-r--r--"),
                    ("./usr/share/hallwatch/profiles/elc-generic.cfg", "-rw-r--r--"),
                    ("./etc/hallwatch/hallwatch.cfg", "-rw-r--r--"),
                    ("./usr/share/man/man1/hallwatch.1", "-rw-r--r--"),
                    ("./usr/share/doc/hallwatch/configuration.md", "-rw-r--r--")]:
        if files.get(f) != mode:
            raise TestFailure("%s in the package: %r, want %s" % (f, files.get(f), mode))
    if any(f.startswith("./usr/local/") for f in files):
        raise TestFailure("the package installs under /usr/local: %r" % sorted(files))

    ctrl = os.path.join(env.tmp, "control")
    subprocess.run(["dpkg-deb", "-e", deb, ctrl], check=True, timeout=30)
    with open(os.path.join(ctrl, "conffiles")) as f:
        conffiles = f.read().split()
    if conffiles != ["/etc/hallwatch/hallwatch.cfg"]:
        raise TestFailure("conffiles: %r" % conffiles)
    with open(os.path.join(ctrl, "postinst")) as f:
        if "systemd-sysusers" not in f.read():
            raise TestFailure("the postinst does not create the user")
    if not os.access(os.path.join(ctrl, "postinst"), os.X_OK):
        raise TestFailure("the postinst is not executable")

    info = subprocess.run(["dpkg-deb", "-f", deb, "Package", "Architecture", "Depends"],
                          capture_output=True, text=True, timeout=30).stdout
    print(info.strip())
    depends = re.search(r"^Depends: (.*)$", info, re.M)
    if not depends:
        raise TestFailure("no Depends: %s" % info)
    deps = {d.strip().split()[0] for d in depends.group(1).split(",")}

    # Every library the binary loads comes from a package the .deb depends on.
    root = os.path.join(env.tmp, "root")
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True, timeout=60)
    binary = os.path.join(root, "usr/bin/hallwatch")
    ldd = subprocess.run(["ldd", binary], capture_output=True, text=True, timeout=30).stdout
    libs = re.findall(r"=> (/\S+) \(", ldd)
    if len(libs) < 5:
        raise TestFailure("ldd found too few libraries: %s" % ldd)
    needed = {}
    for lib in libs:
        pkg = package_of(lib)
        if pkg is None:
            raise TestFailure("no package owns %s" % lib)
        needed.setdefault(pkg.split(":")[0], []).append(os.path.basename(lib))
    # the direct ones at least: a library only another library loads comes with that one
    direct = subprocess.run(["objdump", "-p", binary], capture_output=True, text=True, timeout=30).stdout
    sonames = set(re.findall(r"NEEDED\s+(\S+)", direct))
    missing = sorted(p for p, ls in needed.items() if p not in deps and sonames & set(ls))
    if missing:
        raise TestFailure("Depends lacks %s (libraries of the binary): %s" % (missing, depends.group(1)))
    for p in ("libmodbus5", "libmosquitto1", "libgstreamer1.0-0", "gstreamer1.0-plugins-good",
              "gstreamer1.0-plugins-bad", "gstreamer1.0-libav"):
        if p not in deps:
            raise TestFailure("Depends lacks %s: %s" % (p, depends.group(1)))

    # The postinst makes the user, here inside the unpacked tree (DPKG_ROOT), not on this
    # machine; where systemd runs it would also reload the host's units: not done there.
    if shutil.which("systemd-sysusers") and not os.path.isdir("/run/systemd/system"):
        e = dict(os.environ, DPKG_ROOT=root)
        r = subprocess.run(["sh", os.path.join(ctrl, "postinst"), "configure"], env=e,
                           capture_output=True, text=True, timeout=60)
        with open(os.path.join(root, "etc/passwd")) as f:
            user = [l for l in f.read().splitlines() if l.startswith("hallwatch:")]
        print("postinst: %s" % user)
        if r.returncode != 0 or len(user) != 1 or not user[0].endswith(":/var/lib/hallwatch:/usr/sbin/nologin"):
            raise TestFailure("the postinst made no user hallwatch (%d): %s %r" % (r.returncode, r.stderr, user))

    # The packaged example with the packaged profiles.
    cfg = os.path.join(root, "etc/hallwatch/hallwatch.cfg")
    with open(cfg) as f:
        text = f.read()
    if '"/usr/share/hallwatch/profiles"' not in text:
        raise TestFailure("the packaged example does not name /usr/share/hallwatch/profiles")
    copy = os.path.join(env.tmp, "hallwatch.cfg")
    with open(copy, "w") as f:
        f.write(text.replace('"/usr/share/hallwatch/profiles"',
                             '"%s"' % os.path.join(root, "usr/share/hallwatch/profiles")))
    r = subprocess.run([binary, "check-config", "-c", copy], capture_output=True, text=True, timeout=30)
    print("packaged check-config: %s%s" % (r.stdout.strip(), r.stderr.strip()))
    if r.returncode != 0:
        raise TestFailure("check-config on the packaged example: %s" % r.stderr)


if __name__ == "__main__":
    run(main)
