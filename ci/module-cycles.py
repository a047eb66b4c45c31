#!/usr/bin/env python3
"""Fails when the server's modules import each other in a circle.

The nodes are the server crate's top-level modules (`rules`, `store`,
`views`, `usecases`, `http`, `cli`, ...) and, inside the folders whose
files are rooms of their own (`http/`, `http/web/`, `cli/`), each file.
A folder not listed (such as `store/`) is one node: its files are one
back-end behind one trait. An edge A -> B is a `crate::B...`, `super::...`
or `self::...` path in A's source (a `use` or a path in code) that names
an item of B; a parent's `mod child;` declaration is not an edge. Any
cycle is printed and the script exits 1.

Usage: ci/module-cycles.py [SRC_DIR]  (default crates/timecard-server/src)
"""

import re
import sys
from pathlib import Path

ROOMS = {("http",), ("http", "web"), ("cli",)}


def module_path(src: Path, file: Path) -> tuple:
    """The module path of a source file: src/a/b.rs -> (a, b); a/mod.rs -> (a,)."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts in (["lib"], ["main"]):
        return ()
    return tuple(parts)


def node_of(path: tuple) -> tuple:
    """The node a module path belongs to: the longest room prefix plus one."""
    for depth in range(len(path) - 1, 0, -1):
        if path[:depth] in ROOMS:
            return path[: depth + 1]
    return path[:1]


def strip_comments(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def paths_in(text: str):
    """Every `crate::a::b`, `super::a`, `self::a` path, with `{...}` groups
    of `use` expanded one level (`use crate::x::{a, b::c}`)."""
    for m in re.finditer(r"\b(crate|super|self)((?:::\w+)+)(::\{([^}]*)\})?", text):
        head = [m.group(1)] + m.group(2).strip(":").split("::")
        yield head
        if m.group(4):
            for item in m.group(4).split(","):
                item = item.strip().split(" as ")[0]
                if item and item != "self":
                    yield head + [p for p in item.split("::") if p]


def resolve(current: tuple, path: list, modules: set) -> tuple:
    """The module a path names, by the longest known module prefix."""
    kind, rest = path[0], path[1:]
    if kind == "crate":
        base = ()
    elif kind == "self":
        base = current
    else:  # super, possibly repeated: the parent of the module the file is
        base = current[:-1]
        while rest and rest[0] == "super":
            base = base[:-1]
            rest = rest[1:]
    full = base + tuple(rest)
    for n in range(len(full), 0, -1):
        if full[:n] in modules:
            return full[:n]
    return ()


def main() -> int:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "crates/timecard-server/src")
    files = sorted(src.rglob("*.rs"))
    modules = {module_path(src, f) for f in files}
    edges: dict = {}
    for file in files:
        current = module_path(src, file)
        if not current:
            continue  # the crate root only declares and re-exports
        text = strip_comments(file.read_text())
        # The tests inside a file are the file's own business.
        text = text.split("#[cfg(test)]\nmod tests")[0]
        here = node_of(current)
        for path in paths_in(text):
            target = resolve(current, path, modules)
            if not target:
                continue
            there = node_of(target)
            # A parent naming its own child (a `pub use self::child::X`
            # facade, a router merging its rooms) is the parent's job, not
            # a dependency back; a child naming its parent is one.
            if there == here or (there[: len(here)] == here and len(there) > len(here)):
                continue
            edges.setdefault(here, set()).add(there)
    cycles = []
    state: dict = {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    name = lambda n: "::".join(n) or "crate"
    nodes = sorted({n for n in edges} | {m for targets in edges.values() for m in targets})
    if cycles:
        for cycle in cycles:
            print("module cycle: " + " -> ".join(name(n) for n in cycle), file=sys.stderr)
        return 1
    print(f"{src}: {len(nodes)} modules, {sum(len(t) for t in edges.values())} edges, no cycles")
    return 0


if __name__ == "__main__":
    sys.exit(main())
