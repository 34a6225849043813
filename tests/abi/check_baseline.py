#!/usr/bin/env python3
"""Checks the built libtsa against the stored ABI baseline (baseline.txt).

While the soname stays the baseline's, every baseline symbol must still be
exported in its version node, and every public struct must keep its size.
New symbols are fine in a version node the baseline does not have (a new
node in libtsa.map); a new symbol in an old node is not, since programs
linked against that node could not tell the two libraries apart.

  check_baseline.py BASELINE LIBTSA SIZES_PROGRAM          check (TAP)
  check_baseline.py --write BASELINE LIBTSA SIZES_PROGRAM  regenerate

After a deliberate, compatible change (a new symbol in a new version node),
or after bumping the soname, regenerate the baseline with --write and commit
it with the change."""
import platform
import re
import subprocess
import sys

args = sys.argv[1:]
write = args[:1] == ["--write"]
if write:
    args = args[1:]
if len(args) != 3:
    sys.exit(__doc__)
baseline_path, lib_path, sizes_prog = args


def current():
    dyn = subprocess.run(["readelf", "-d", lib_path], capture_output=True,
                         text=True, check=True).stdout
    m = re.search(r"Library soname: \[(.*?)\]", dyn)
    soname = m.group(1) if m else "none"
    # readelf --dyn-syms prints name@@NODE (default version) or name@NODE.
    syms = {}
    out = subprocess.run(["readelf", "--dyn-syms", "--wide", lib_path],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        f = line.split()
        if len(f) < 8 or f[6] in ("UND", "ABS") or f[4] not in ("GLOBAL", "WEAK"):
            continue
        if f[3] not in ("FUNC", "OBJECT", "IFUNC"):
            continue
        name, _, node = f[7].partition("@")
        syms[name] = node.lstrip("@") or "-"
    sizes = {}
    out = subprocess.run([sizes_prog], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        kw, name, n = line.split()
        if kw == "sizeof":
            sizes[name] = int(n)
    return soname, syms, sizes


def read_baseline():
    soname, arch, syms, sizes = None, None, {}, {}
    with open(baseline_path) as f:
        for line in f:
            f = line.split("#", 1)[0].split()
            if not f:
                continue
            if f[0] == "soname":
                soname = f[1]
            elif f[0] == "arch":
                arch = f[1]
            elif f[0] == "symbol":
                syms[f[2]] = f[1]
            elif f[0] == "sizeof":
                sizes[f[1]] = int(f[2])
            else:
                sys.exit(f"{baseline_path}: unknown line: {line.strip()}")
    return soname, arch, syms, sizes


soname, syms, sizes = current()
arch = platform.machine()
update = (f"python3 tests/abi/check_baseline.py --write tests/abi/baseline.txt "
          f"{lib_path} {sizes_prog}")

if write:
    with open(baseline_path, "w") as out:
        out.write("# The ABI of libtsa as released: every exported symbol with its\n"
                  "# version node, and the size of every public struct (for arch).\n"
                  "# tests/abi/check_baseline.py fails if, under this soname, a symbol\n"
                  "# disappears or moves, or a struct changes size. Regenerate with\n"
                  "#   tests/abi/check_baseline.py --write tests/abi/baseline.txt \\\n"
                  "#       BUILD/libtsa/libtsa.so BUILD/tests/test-abi-sizes\n"
                  "# only for a new soname or after adding a new version node.\n")
        out.write(f"soname {soname}\narch {arch}\n")
        for name in sorted(syms, key=lambda s: (syms[s], s)):
            out.write(f"symbol {syms[name]} {name}\n")
        for name, n in sizes.items():
            out.write(f"sizeof {name} {n}\n")
    print(f"wrote {baseline_path}: {soname}, {len(syms)} symbols, {len(sizes)} structs")
    sys.exit(0)

b_soname, b_arch, b_syms, b_sizes = read_baseline()
tests = []  # (ok, description, details, skip reason)

if soname != b_soname:
    # A new soname is the one time the ABI may break; the baseline then
    # describes the old library and must be regenerated.
    print("1..1")
    print(f"ok 1 - soname {soname} differs from the baseline's {b_soname} # SKIP "
          f"the ABI was bumped: regenerate the baseline with\n#   {update}")
    sys.exit(0)

tests.append((True, f"soname is still {soname}", [], None))

gone = [f"{s} ({b_syms[s]})" for s in sorted(b_syms) if s not in syms]
moved = [f"{s}: {b_syms[s]} -> {syms[s]}" for s in sorted(b_syms)
         if s in syms and syms[s] != b_syms[s]]
tests.append((not gone, f"all {len(b_syms)} baseline symbols are still exported",
              [f"removed: {g}" for g in gone], None))
tests.append((not moved, "baseline symbols keep their version nodes",
              [f"moved: {m}" for m in moved], None))

old_nodes = set(b_syms.values())
added = sorted(s for s in syms if s not in b_syms)
in_old = [f"{s} ({syms[s]})" for s in added if syms[s] in old_nodes]
tests.append((not in_old,
              f"new symbols are in new version nodes ({len(added)} new"
              + (f": {', '.join(added)}" if added else "") + ")",
              [f"{s} is in an existing node: add a new node to libtsa.map "
               "(e.g. LIBTSA_0.2 { global: ...; } LIBTSA_0.1;)" for s in in_old], None))

skip = None if arch == b_arch else f"baseline sizes are for {b_arch}, this is {arch}"
for name, n in b_sizes.items():
    now = sizes.get(name)
    tests.append((now == n, f"sizeof({name}) is {n}",
                  [f"sizeof({name}) is now {now}" if now is not None
                   else f"{name} is no longer measured by the sizes program"], skip))
new_structs = sorted(set(sizes) - set(b_sizes))
tests.append((not new_structs, "every measured struct is in the baseline",
              [f"{s} is not in the baseline" for s in new_structs], None))

print(f"1..{len(tests)}")
failed = 0
for i, (good, desc, details, why) in enumerate(tests, 1):
    if why:
        print(f"ok {i} - {desc} # SKIP {why}")
    elif good:
        print(f"ok {i} - {desc}")
    else:
        failed += 1
        print(f"not ok {i} - {desc}")
        for d in details:
            print(f"#   {d}")
if failed:
    print(f"# The ABI of {soname} changed. Restore it, or: for a compatible addition,\n"
          f"# put new symbols in a new version node and regenerate the baseline;\n"
          f"# for an incompatible change, bump the soname and regenerate:\n#   {update}")
sys.exit(1 if failed else 0)
