#!/usr/bin/env python3
"""Lists functions outside tests longer than a limit (default 80 lines) in Rust, TypeScript and Svelte.

A function may be longer when the line right above it (or its first line) says why, with a comment
that starts `// Long:` (Rust, TypeScript). Exits 1 when any function is too long without a reason,
so the test command can keep the rule.

Usage: scripts/long-functions.py [--limit N] [--report]   (--report lists all, exits 0)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = 80
SKIP_DIRS = {"target", "node_modules", "dist", ".git", "tests", "browser", "benches", "fuzz"}
RUST_FN = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?(extern\s+\"[^\"]*\"\s+)?fn\s+(\w+)")
TS_FN = re.compile(r"^\s*(export\s+)?(async\s+)?function\s+(\w+)|^\s*(export\s+)?const\s+(\w+)\s*=\s*(async\s*)?\([^)]*\)\s*(:\s*[^=]+)?=>\s*\{")


def strip_strings(line):
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    line = re.sub(r"`(\\.|[^`\\])*`", "``", line)
    return line.split("//")[0]


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.readlines()
    if path.endswith(".svelte"):
        # Only the component's <script> counts; its markup and styles become blank lines.
        inside = False
        for n, line in enumerate(lines):
            if re.match(r"\s*<script\b", line):
                inside = True
                lines[n] = "\n"
            elif re.match(r"\s*</script>", line):
                inside = False
                lines[n] = "\n"
            elif not inside:
                lines[n] = "\n"
    is_rust = path.endswith(".rs")
    in_test_mod = False
    test_depth = None
    depth = 0
    in_raw = False
    i = 0
    out = []
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if is_rust and stripped.startswith("#[cfg(test)]"):
            test_depth = depth
        m = (RUST_FN if is_rust else TS_FN).match(line)
        if m and test_depth is None:
            name = m.group(7) if is_rust else (m.group(3) or m.group(5))
            # find the opening brace and its match
            d = 0
            opened = False
            j = i
            raw = False
            while j < len(lines):
                text = lines[j]
                if is_rust:
                    if raw:
                        if '"#' in text:
                            raw = False
                            text = text.split('"#', 1)[1]
                        else:
                            j += 1
                            continue
                    if 'r#"' in text and '"#' not in text.split('r#"', 1)[1]:
                        raw = True
                        text = text.split('r#"', 1)[0]
                code = strip_strings(text)
                if not opened and ";" in code and "{" not in code:
                    break  # a declaration without a body
                for ch in code:
                    if ch == "{":
                        d += 1
                        opened = True
                    elif ch == "}":
                        d -= 1
                if opened and d <= 0:
                    break
                j += 1
            if opened:
                length = j - i + 1
                reason = any("// Long:" in lines[k] for k in range(max(0, i - 3), min(len(lines), i + 2)))
                out.append((name, i + 1, length, reason))
        code = strip_strings(line)
        depth += code.count("{") - code.count("}")
        if test_depth is not None and depth <= test_depth and "}" in code:
            test_depth = None
        i += 1
    return out


def main():
    limit = LIMIT
    report = "--report" in sys.argv
    if "--limit" in sys.argv:
        limit = int(sys.argv[sys.argv.index("--limit") + 1])
    bad = []
    for base in ["crates", "src-tauri/src", "ui/src"]:
        if not os.path.isdir(os.path.join(ROOT, base)):
            continue
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, base)):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
            for name in filenames:
                if not name.endswith((".rs", ".ts", ".svelte")) or name.endswith((".test.ts", ".d.ts")):
                    continue
                if name == "bindings.ts":
                    continue
                path = os.path.join(dirpath, name)
                for fn, line, length, reason in functions(path):
                    if length > limit and (report or not reason):
                        bad.append((length, os.path.relpath(path, ROOT), line, fn, reason))
    for length, path, line, fn, reason in sorted(bad, reverse=True):
        print(f"{length:4} lines  {path}:{line}  {fn}{'  (reason given)' if reason else ''}")
    if report:
        return 0
    if bad:
        print(f"{len(bad)} function(s) longer than {limit} lines without a `// Long:` reason above them")
        return 1
    print(f"no function outside tests is longer than {limit} lines without a reason")
    return 0


if __name__ == "__main__":
    sys.exit(main())
