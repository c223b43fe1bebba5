#!/usr/bin/env python3
"""The layout's include directions (README.md, "Layout"): every #include "dir/file.h" of a
C file must name a folder its own folder may include. Prints each violation as FILE:LINE
and exits 1; also fails on a cycle between folders and on a folder of C code without a
README.md. Run by the test suite."""

import os
import re
import sys

SRC = os.environ.get("HW_SRC") or os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

# Who may include whom, besides itself. Read top to bottom: the flow of the hall.
ALLOWED = {
    "core": set(),
    "hub": {"core"},
    "devices": {"core", "hub"},
    "video": {"core", "hub"},
    "inspect": {"core", "hub"},
    "outputs": {"core", "hub"},
    "router": {"core", "outputs"},
    "alerts": {"core", "hub", "outputs", "router"},
    "web": {"core", "hub", "outputs", "router"},
    "gateway": {"core", "hub", "devices", "video", "inspect", "outputs", "router", "alerts", "web", "county"},
    "county": {"core", "outputs", "web"},
}
# Code outside the daemon: tests, tools, benchmarks and fuzz targets may include anything.
FREE = {"tests", "bench", "fuzz"}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/[^"]+"')


def main():
    bad = []
    for folder in sorted(os.listdir(SRC)):
        path = os.path.join(SRC, folder)
        if not os.path.isdir(path) or folder.startswith(".") or folder in FREE:
            continue
        sources = [f for f in os.listdir(path) if f.endswith((".c", ".h"))]
        if not sources:
            continue
        if folder not in ALLOWED:
            bad.append("%s/: a folder of C code the layout does not know" % folder)
            continue
        if not os.path.exists(os.path.join(path, "README.md")):
            bad.append("%s/README.md: missing (what it owns, what it may include, which "
                       "thread runs it)" % folder)
        for name in sorted(sources):
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    dep = m.group(1)
                    if dep != folder and dep not in ALLOWED[folder]:
                        bad.append("%s/%s:%d: %s/ may not include %s/ (allowed: %s)"
                                   % (folder, name, no, folder, dep,
                                      ", ".join(sorted(ALLOWED[folder])) or "nothing"))
    # The allowed graph itself has no cycle (a folder listed by mistake would close one).
    state = {}

    def visit(n, trail):
        if state.get(n) == 1:
            bad.append("cycle between folders: %s" % " -> ".join(trail + [n]))
            return
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in sorted(ALLOWED.get(n, ())):
            visit(d, trail + [n])
        state[n] = 2
    for n in sorted(ALLOWED):
        visit(n, [])
    for b in bad:
        print(b)
    if bad:
        print("layout: %d violation(s)" % len(bad))
        return 1
    print("layout: %d folders, include directions as README.md says" % len(ALLOWED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
