#!/usr/bin/env python3
"""Generates handlers/relay/ratio_defaults.c, One API's default ratio tables, from markdown.

Usage: contrib/gen-ratio-defaults.py TABLES.md [-o handlers/relay/ratio_defaults.c] [--check]

TABLES.md is a transcription of One API's defaults (its relay/billing/ratio package), with:
  * the default ModelRatio table: one "#### <vendor> (N entries)" subsection per vendor, rows
    of `model` | ratio pairs (three pairs per row);
  * the explicit default CompletionRatio table (`key` | value (comment));
  * the default GroupRatio as a JSON block.

Every count the document states (per subsection and in total) is checked, keys must be unique
and values must be plain decimal numbers. The ratio literals are copied verbatim: they are the
shortest decimal of each float64 One API's Go constant expressions produce (USD = 500,
MILLI_USD = 0.5, RMB = 71), and a C compiler rounds that decimal back to the very same double.
Rows are emitted sorted by byte value so the C side can bisect with strcmp().

With --check the output is compared with the existing file instead of written; the exit status
is 1 when they differ (for CI: the committed table must match the document).
"""

import argparse
import json
import re
import sys

NUMBER = re.compile(r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
PAIR_KEY = re.compile(r"^`([^`]+)`$")


def fail(msg):
    sys.exit("gen-ratio-defaults: " + msg)


def section(lines, start_re, end_re):
    """Lines after the first line matching start_re, up to (not incl.) one matching end_re."""
    out, inside = [], False
    for line in lines:
        if not inside:
            if re.match(start_re, line):
                inside = True
            continue
        if re.match(end_re, line):
            break
        out.append(line)
    if not inside:
        fail("section not found: " + start_re)
    return out


def check_number(key, text):
    if not NUMBER.match(text):
        fail("value of %r is not a plain number: %r" % (key, text))
    return text


def table_rows(lines):
    """Data rows of markdown tables: cells of lines starting with '|', minus header rules."""
    for line in lines:
        line = line.strip()
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if all(re.match(r"^:?-+:?$", c) for c in cells if c):
            continue
        yield cells


def parse_appendix_a(lines):
    body = section(lines, r"^## Appendix A\b", r"^## ")
    total_m = re.search(r"(\d+) entries\.", " ".join(body[:6]))
    if not total_m:
        fail("Appendix A: no 'N entries.' total in its introduction")
    total = int(total_m.group(1))
    entries, seen = [], {}
    sub, sub_count, sub_want, vendor = None, 0, 0, ""

    def close_sub():
        if sub is not None and sub_count != sub_want:
            fail("%s: %d entries parsed, heading says %d" % (sub, sub_count, sub_want))

    for line in body:
        h = re.match(r"^#### (A\.\d+) (.*) \((\d+) entries\)\s*$", line)
        if h:
            close_sub()
            sub, sub_count, sub_want = h.group(1), 0, int(h.group(3))
            vendor = h.group(2).split(" (")[0]
            continue
        if sub is None or not line.strip().startswith("|"):
            continue
        for cells in table_rows([line]):
            if cells[0] == "model":
                continue
            if len(cells) % 2:
                fail("%s: odd cell count in row %r" % (sub, line))
            for i in range(0, len(cells), 2):
                k, v = cells[i], cells[i + 1]
                if not k and not v:
                    continue
                m = PAIR_KEY.match(k)
                if not m:
                    fail("%s: key cell is not `quoted`: %r" % (sub, k))
                key = m.group(1)
                if key in seen:
                    fail("%s: duplicate key %r (also in %s)" % (sub, key, seen[key]))
                seen[key] = sub
                entries.append((key, check_number(key, v), "A:" + vendor))
                sub_count += 1
    close_sub()
    if len(entries) != total:
        fail("Appendix A: %d entries parsed, introduction says %d" % (len(entries), total))
    return entries


def parse_completion(lines):
    body = section(lines, r"^#### 6\.13\.3\b", r"^Fallback rules")
    entries, seen = [], set()
    for cells in table_rows(body):
        if cells[0] == "key":
            continue
        m = PAIR_KEY.match(cells[0])
        if not m or len(cells) != 2:
            fail("6.13.3: unexpected row %r" % (cells,))
        key = m.group(1)
        value = cells[1].split()[0]
        if key in seen:
            fail("6.13.3: duplicate key %r" % key)
        seen.add(key)
        entries.append((key, check_number(key, value), "6.13.3"))
    if not entries:
        fail("6.13.3: no rows")
    return entries


def parse_group(lines):
    body = section(lines, r"^#### 6\.13\.1\b", r"^#### ")
    m = re.search(r"`(\{[^`]*\})`", " ".join(body))
    if not m:
        fail("6.13.1: no `{...}` JSON")
    obj = json.loads(m.group(1))
    out = []
    for key, value in obj.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            fail("6.13.1: value of %r is not a number" % key)
        out.append((key, check_number(key, json.dumps(value)), "6.13.1"))
    return out


def c_string(s):
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= ord(ch) < 0x7F:
            out.append(ch)
        else:
            fail("non-ASCII or control character in key %r" % s)
    return '"' + "".join(out) + '"'


def emit_table(out, name, entries, what):
    rows = sorted(entries, key=lambda e: e[0].encode("utf-8"))
    out.append("/* %s: %d entries, sorted by byte value (strcmp) for bisection. */" %
               (what, len(rows)))
    out.append("const struct ratio_entry %s[] = {" % name)
    for key, value, origin in rows:
        line = "    {%s, %s}," % (c_string(key), value)
        if origin.startswith("A:"):
            line += " /* %s */" % origin[2:]
        if len(line) > 100:
            fail("generated line longer than 100 columns: " + line)
        out.append(line)
    out.append("};")
    out.append("const size_t %s_n =" % name)
    out.append("    sizeof %s / sizeof %s[0];" % (name, name))
    out.append("")


def generate(spec_text):
    lines = spec_text.splitlines()
    model = parse_appendix_a(lines)
    completion = parse_completion(lines)
    group = parse_group(lines)
    out = [
        "/* One API's default ratio tables (ModelRatio, CompletionRatio, GroupRatio); generated, do"
        " not",
        " * edit. */",
        "/*",
        " * Generated by contrib/gen-ratio-defaults.py; regenerate instead of editing. Each literal",
        " * is the shortest decimal of the float64 that One API's Go constant expression yields",
        " * (USD = 500, MILLI_USD = 0.5, RMB = 71), so it rounds back to the identical double. Each",
        " * ModelRatio row names the vendor it belongs to. Negative entries are kept as data;",
        " * ratio.c ignores them.",
        " */",
        '#include "config.h"',
        '#include "handlers/relay/ratio.h"',
        "",
        "#include <stddef.h>",
        "",
        "/* Generated layout; the generator, not clang-format, owns it. */",
        "/* clang-format off */",
        "",
    ]
    emit_table(out, "ratio_default_model", model, "ModelRatio")
    emit_table(out, "ratio_default_completion", completion, "CompletionRatio, explicit rows")
    emit_table(out, "ratio_default_group", group, "GroupRatio")
    out.append("/* clang-format on */")
    return "\n".join(out).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("spec", help="the markdown transcription of the default tables")
    ap.add_argument("-o", "--output", help="output file (default: stdout)")
    ap.add_argument("--check", action="store_true",
                    help="compare with --output instead of writing it; exit 1 on a difference")
    args = ap.parse_args()
    with open(args.spec, encoding="utf-8") as f:
        text = generate(f.read())
    if args.check:
        if not args.output:
            fail("--check needs -o FILE")
        with open(args.output, encoding="utf-8") as f:
            if f.read() != text:
                sys.stderr.write("gen-ratio-defaults: %s is out of date\n" % args.output)
                return 1
        return 0
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
