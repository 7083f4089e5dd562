#!/usr/bin/env python3
"""Checks src/README.md's layer table against the code: every `#include "layer/..."` in
src/<layer>/ names a layer that the table lets it depend on (directly or through a lower layer),
and no file in src/ is over 1,000 lines. Prints each violation; exits 1 if there is any."""
import pathlib, re, sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEPS = {}
for line in (ROOT / "src/README.md").read_text().splitlines():
    m = re.match(r"\| (\w+)/ \|.*\| ([^|]+) \|$", line)
    if m:
        deps = re.findall(r"\b(\w+)\b", re.sub(r"\(.*?\)", "", m.group(2)))
        DEPS[m.group(1)] = {d for d in deps if d not in ("nothing", "all")}
        if "all" in m.group(2):
            DEPS[m.group(1)] = None  # the composition root may include any layer

def closure(layer, seen=None):
    seen = set() if seen is None else seen
    for d in DEPS.get(layer) or ():
        if DEPS.get(d, set()) is None:
            seen.update(DEPS)  # it depends on the composition root, which may include anything
        if d not in seen:
            seen.add(d)
            closure(d, seen)
    return seen

problems = []
for path in sorted((ROOT / "src").rglob("*")):
    if path.suffix not in (".cc", ".h") or path.parent.name == "js" and "api" in path.parts[:-2]:
        continue
    rel = path.relative_to(ROOT / "src")
    layer = rel.parts[0] if len(rel.parts) > 1 else None
    text = path.read_text(errors="replace")
    lines = text.count("\n")
    if lines > 1000:
        problems.append(f"{rel}: {lines} lines (split before 1,000)")
    if layer is None or layer not in DEPS or DEPS[layer] is None:
        continue
    allowed = closure(layer) | {layer}
    for inc in re.findall(r'^#include "(\w+)/', text, re.M):
        if inc in DEPS and inc not in allowed:
            problems.append(f"{rel}: includes {inc}/, which {layer}/ may not depend on")

for p in problems:
    print(p)
print(f"layers: {len(DEPS)} layers checked, {len(problems)} problems")
sys.exit(1 if problems else 0)
