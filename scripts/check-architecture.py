#!/usr/bin/env python3
"""Checks docs/architecture.md against the code, module by module and command by command.

For every source folder the page has a section for (a heading `### \`crates/core/src\` …`), the
section's table must name every `.rs` file below that folder (first column, in backticks, relative
to the folder) and nothing that does not exist. Every crate's and the shell's source folder must
have a section. Under "### Commands the UI calls", the row of `commands/<module>.rs` names exactly
the commands `src-tauri/src/bindings.rs` registers from that module; under "### The `zentro`
command", every top-level command of the CLI (`crates/cli/src/cli.rs`) is named. Links must stay
inside the repository (no http(s) links, relative links resolve).

Exits 1 naming each difference, so the test command keeps the page true.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = os.path.join(ROOT, "docs", "architecture.md")


def source_folders():
    folders = ["src-tauri/src"]
    crates = os.path.join(ROOT, "crates")
    for name in sorted(os.listdir(crates)):
        if os.path.isdir(os.path.join(crates, name, "src")):
            folders.append(f"crates/{name}/src")
    return folders


def rust_files(folder):
    base = os.path.join(ROOT, folder)
    found = set()
    for dirpath, _, filenames in os.walk(base):
        for name in filenames:
            if name.endswith(".rs"):
                found.add(os.path.relpath(os.path.join(dirpath, name), base))
    return found


def sections(text):
    """{folder: set of first-column entries} for each `### `folder`` section."""
    out = {}
    current = None
    for line in text.splitlines():
        heading = re.match(r"^###\s+`([^`]+)`", line)
        if heading:
            current = heading.group(1).rstrip("/")
            out.setdefault(current, set())
            continue
        if line.startswith("## ") or line.startswith("# "):
            current = None
            continue
        if current is not None:
            cell = re.match(r"^\|\s*`([^`]+)`\s*\|", line)
            if cell:
                out[current].add(cell.group(1))
    return out


def subsection(text, title):
    """The lines under the `### title` heading, up to the next heading."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("#"):
            inside = line.startswith("### ") and line[4:].strip() == title
            continue
        if inside:
            out.append(line)
    return out


def kebab(name):
    return re.sub(r"(?<!^)([A-Z])", r"-\1", name).lower()


def command_problems(text):
    problems = []
    with open(os.path.join(ROOT, "src-tauri", "src", "bindings.rs"), encoding="utf-8") as f:
        registered = {}
        for module, command in re.findall(r"commands::(\w+)::(\w+)", f.read()):
            registered.setdefault(module, set()).add(command)
    listed = {}
    for line in subsection(text, "Commands the UI calls"):
        row = re.match(r"^\|\s*`commands/(\w+)\.rs`\s*\|[^|]*\|(.*)\|\s*$", line)
        if row:
            listed[row.group(1)] = set(re.findall(r"`(\w+)`", row.group(2)))
    for module in sorted(set(registered) | set(listed)):
        have, say = registered.get(module, set()), listed.get(module, set())
        for command in sorted(have - say):
            problems.append(f"command {command} (commands/{module}.rs): registered, not on the page")
        for command in sorted(say - have):
            problems.append(f"command {command} (commands/{module}.rs): on the page, not registered")
    with open(os.path.join(ROOT, "crates", "cli", "src", "cli.rs"), encoding="utf-8") as f:
        cli = f.read()
    top = cli[cli.index("pub enum Command {") :]
    top = top[: top.index("\n}\n")]
    names = {kebab(v) for v in re.findall(r"^    ([A-Z][A-Za-z]*)\b", top, re.M)}
    zentro = "\n".join(subsection(text, "The `zentro` command"))
    for name in sorted(names):
        if f"`{name}`" not in zentro:
            problems.append(f"zentro {name}: a command of the CLI, not on the page")
    return problems


def main():
    with open(PAGE, encoding="utf-8") as f:
        text = f.read()
    problems = []
    found = sections(text)
    for folder in source_folders():
        if folder not in found:
            problems.append(f"{folder}: no section `### \\`{folder}\\`` naming its modules")
            continue
        actual = rust_files(folder)
        listed = found[folder]
        for missing in sorted(actual - listed):
            problems.append(f"{folder}/{missing}: in the code, not on the page")
        for stale in sorted(listed - actual):
            problems.append(f"{folder}/{stale}: on the page, not in the code")
    problems += command_problems(text)
    for url in re.findall(r"\]\((https?://[^)]+)\)|<(https?://[^>]+)>", text):
        problems.append(f"a link outside the repository: {url[0] or url[1]}")
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path = os.path.normpath(os.path.join(os.path.dirname(PAGE), target))
        if not path.startswith(ROOT + os.sep) or not os.path.exists(path):
            problems.append(f"a link that does not resolve inside the repository: {target}")
    for problem in problems:
        print(problem)
    if problems:
        print(f"docs/architecture.md differs from the code in {len(problems)} place(s)")
        return 1
    total = sum(len(rust_files(f)) for f in source_folders())
    print(
        f"docs/architecture.md names all {total} modules of {len(source_folders())} source folders,"
        " every command the UI calls and every command of the CLI"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
