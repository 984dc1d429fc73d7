#!/usr/bin/env python3
"""Fails when modules of a crate import each other in a cycle.

Reads each crate's `src/**/*.rs` (tests excluded) for `crate::a::b` and
`super::a` paths; a path names the longest module prefix it has. A module's own parents and children do not count. Prints
every cycle (a strongly connected group of modules) and exits 1 if any.
"""
import glob
import os
import re
import sys

CRATES = ["types/src", "core/src", "app/src", "server/src"]


def module_name(root, path):
    parts = os.path.relpath(path, root)[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(parts)


def graph(root):
    mods = {module_name(root, p): p for p in glob.glob(root + "/**/*.rs", recursive=True)}
    edges = {m: set() for m in mods}
    for m, path in mods.items():
        text = open(path).read().split("#[cfg(test)]\nmod tests")[0]
        refs = set(re.findall(r"crate::([a-z_]+(?:::[a-z_]+)*)", text))
        parent = m.rsplit("::", 1)[0] if "::" in m else ""
        for sibling in re.findall(r"(?<![\w:])super::([a-z_]+)", text):
            refs.add(f"{parent}::{sibling}" if parent else sibling)
        for ref in refs:
            parts = ref.split("::")
            for k in range(len(parts), 0, -1):
                target = "::".join(parts[:k])
                if target in mods:
                    related = target == m or target.startswith(m + "::") or m.startswith(target + "::")
                    if not related and target:
                        edges[m].add(target)
                    break
    return edges


def cycles(edges):
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return found


root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
bad = False
for crate in CRATES:
    for group in cycles(graph(os.path.join(root, crate))):
        bad = True
        print(f"{crate}: modules import each other in a cycle: {', '.join(group)}")
sys.exit(1 if bad else 0)
