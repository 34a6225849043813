#!/usr/bin/env python3
"""Checks that the public headers, libtsa.map and the built library agree:
every TSA_API function is listed in the map and exported, nothing else is
exported, and the soname is libtsa.so.<major>. Prints TAP."""
import pathlib
import re
import subprocess
import sys

header_dir, map_path, lib_path = map(pathlib.Path, sys.argv[1:4])

declared = set()
for h in sorted(header_dir.glob("*.h")):
    text = re.sub(r"/\*.*?\*/", "", h.read_text(), flags=re.S)
    for m in re.finditer(r"TSA_API\b[^;{(]*?\b(tsa_\w+)\s*\(", text):
        declared.add(m.group(1))

map_text = re.sub(r"/\*.*?\*/", "", map_path.read_text(), flags=re.S)
listed = set(re.findall(r"^\s*(tsa_\w+)\s*;", map_text, flags=re.M))

nm = subprocess.run(["nm", "-D", "--defined-only", str(lib_path)],
                    capture_output=True, text=True, check=True).stdout
exported = set()
for line in nm.splitlines():
    parts = line.split()
    if len(parts) == 3 and parts[1] in "TDBRVW":
        exported.add(parts[2].split("@")[0])
exported.discard("LIBTSA_0.1")
exported = {s for s in exported if not s.startswith("LIBTSA_")}

dyn = subprocess.run(["readelf", "-d", str(lib_path)], capture_output=True,
                     text=True, check=True).stdout
soname = re.search(r"Library soname: \[(.*?)\]", dyn)

checks = [
    ("every TSA_API function is in libtsa.map", declared - listed),
    ("every libtsa.map symbol is declared TSA_API in a header", listed - declared),
    ("every declared symbol is exported", declared - exported),
    ("nothing beyond the declared symbols is exported", exported - declared),
]
print(f"1..{len(checks) + 1}")
failed = 0
for i, (name, diff) in enumerate(checks, 1):
    if diff:
        failed += 1
        print(f"not ok {i} - {name}")
        print(f"#   offending: {', '.join(sorted(diff))}")
    else:
        print(f"ok {i} - {name} ({len(declared)} symbols)")
good = soname is not None and soname.group(1) == "libtsa.so.0"
failed += not good
print(f"{'ok' if good else 'not ok'} {len(checks) + 1} - soname is libtsa.so.0"
      f" (found {soname.group(1) if soname else 'none'})")
sys.exit(1 if failed else 0)
