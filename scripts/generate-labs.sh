#!/usr/bin/env bash
# Regenerates what is derived from the labs' own files (DESIGN.md §4, "one declaration per
# lab"). Run it after adding, renaming or removing a lab, after changing a lab's `info` or
# knobs, and after moving a lab's `labs:` line in curriculum.yaml; the tests in
# Tests/LabsTests/RegistryTests.swift fail until you do.
#
#   1. Sources/Labs/<Family>/Registry.swift: every type in the family's folder that
#      conforms to `Lab`, in the order its lab appears in curriculum.yaml
#      (`public enum <Family>Labs { public static let labs: [any Lab.Type] = [...] }`).
#   2. Sources/LabCatalog/LabCatalog+Generated.swift: every lab's `info`, as printed by
#      `curriculum-labs catalog`, written out as Swift literals in plan order, so the
#      tracker knows the labs without linking their code and without decoding anything at
#      start-up.
#
# Labs the plan does not link come last, by (phase, id).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# The Python half: `registries` rewrites the family lists, `catalogue FILE` turns the JSON
# of `curriculum-labs catalog` into Swift.
IFS= read -r -d '' generator <<'PY' || true
import json, os, re, sys

ROOT = os.getcwd()
LABS = os.path.join(ROOT, "Sources", "Labs")
PLAN = os.path.join(ROOT, "curriculum.yaml")
GENERATED = os.path.join(ROOT, "Sources", "LabCatalog", "LabCatalog+Generated.swift")


def fail(message):
    sys.exit("generate-labs: " + message)


def plan_order():
    """Lab ids in the order their `labs:` lines appear in curriculum.yaml (flow `[a, b]`
    or block `- a` lists)."""
    order = []
    lines = open(PLAN, encoding="utf-8").read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)(?:-\s+)?labs:\s*(.*?)\s*(?:#.*)?$", lines[i])
        i += 1
        if not m:
            continue
        indent, rest = len(m.group(1)), m.group(2)
        if rest.startswith("["):
            if not rest.endswith("]"):
                fail(f"curriculum.yaml:{i}: a `labs:` list must close on its line")
            names = [n.strip().strip("'\"") for n in rest[1:-1].split(",")]
        elif rest == "":
            names = []
            while i < len(lines):
                item = re.match(r"^(\s*)-\s+(.+?)\s*(?:#.*)?$", lines[i])
                if not item or len(item.group(1)) < indent:
                    break
                names.append(item.group(2).strip("'\""))
                i += 1
        else:
            names = [rest.strip("'\"")]
        for n in names:
            if n and n not in order:
                order.append(n)
    return order


def strip_comments(text):
    """Swift source without comments (a type named in a comment is not a declaration),
    keeping offsets' order; string literals are left alone."""
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


DECL = re.compile(
    r"^[ \t]*(?:(?:public|package|internal|fileprivate|private|final|@\w+)\s+)*"
    r"(?:struct|class|enum|actor|extension)\s+([A-Za-z_]\w*)\s*(?:<[^>{]*>)?\s*:\s*([^{]*)\{",
    re.M)
INFO = re.compile(
    r"static\s+(?:let|var)\s+info\b[^=]*=\s*(?:LabInfo\(\s*id:\s*\"([^\"]+)\"|LabCatalog\.entry\(\"([^\"]+)\"\))")
PHASE = re.compile(r"\bphase:\s*(\d+)")


def lab_types(folder):
    """(type, id or None, phase) for every `Lab` type declared under folder."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            if not name.endswith(".swift") or path == os.path.join(folder, "Registry.swift"):
                continue
            text = strip_comments(open(path, encoding="utf-8").read())
            folder_phase = re.search(r"Phase(\d+)", os.path.relpath(path, folder))
            for m in DECL.finditer(text):
                conformances = [c.strip() for c in m.group(2).split("where")[0].split(",")]
                if "Lab" not in conformances and "LabKit.Lab" not in conformances:
                    continue
                info = INFO.search(text, m.end())
                lab_id = (info.group(1) or info.group(2)) if info else None
                phase = PHASE.search(text, info.end()) if info and info.group(1) else None
                found.append((m.group(1), lab_id,
                              int(phase.group(1)) if phase else int(folder_phase.group(1)) if folder_phase else 0))
    return found


def write_if_changed(path, text):
    old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
    if old != text:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        print("generate-labs: wrote " + os.path.relpath(path, ROOT))


def wrap(items, indent, width=118):
    lines, line = [], ""
    for item in items:
        piece = item + ","
        if line and len(indent) + len(line) + 1 + len(piece) > width:
            lines.append(indent + line)
            line = piece
        else:
            line = piece if not line else line + " " + piece
    if line:
        lines.append(indent + line)
    return lines


def registries():
    rank = {lab: i for i, lab in enumerate(plan_order())}
    for family in sorted(os.listdir(LABS)):
        folder = os.path.join(LABS, family)
        if family == "Registry" or not os.path.isdir(folder):
            continue
        types = lab_types(folder)
        names = [t for t, _, _ in types]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            fail(f"Sources/Labs/{family} declares {', '.join(duplicates)} more than once")
        types.sort(key=lambda t: (0, rank[t[1]], "", "") if t[1] in rank else (1, t[2], t[1] or "", t[0]))
        enum = family + "Labs"
        body = "\n".join(wrap([t + ".self" for t, _, _ in types], " " * 8))
        listing = f"[\n{body}\n    ]" if types else "[]"
        write_if_changed(os.path.join(folder, "Registry.swift"),
                         "// Generated by scripts/generate-labs.sh from the `Lab` types in this folder; do not edit.\n"
                         "import LabKit\n\n"
                         f"public enum {enum} {{\n"
                         f"    public static let labs: [any Lab.Type] = {listing}\n"
                         "}\n")


def swift_string(s):
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def swift_strings(items):
    return "[" + ", ".join(swift_string(i) for i in items) + "]"


def swift_double(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        fail(f"not a number in a double parameter: {v!r}")
    return repr(float(v))


def swift_kind(kind):
    if not isinstance(kind, dict) or len(kind) != 1:
        fail(f"unknown parameter kind {kind!r}")
    (case, payload), = kind.items()
    if case == "int":
        return f"LabParameter.Kind.int(min: {int(payload['min'])}, max: {int(payload['max'])})"
    if case == "double":
        return f"LabParameter.Kind.double(min: {swift_double(payload['min'])}, max: {swift_double(payload['max'])})"
    if case == "choice":
        return f"LabParameter.Kind.choice({swift_strings(payload['_0'])})"
    if case == "bool":
        return "LabParameter.Kind.bool"
    if case == "text":
        return "LabParameter.Kind.text"
    fail(f"unknown parameter kind {case!r}; teach scripts/generate-labs.sh to write it")


def swift_info(lab):
    p = [
        f"        LabInfo(",
        f"            id: {swift_string(lab['id'])},",
        f"            title: {swift_string(lab['title'])},",
        f"            phase: {int(lab['phase'])},",
        f"            tasks: {swift_strings(lab['tasks'])},",
        f"            teaches: {swift_string(lab['teaches'])},",
    ]
    if lab["parameters"]:
        p.append("            parameters: [")
        for q in lab["parameters"]:
            quick = f", quick: {swift_string(q['quickValue'])}" if q.get("quickValue") is not None else ""
            p.append(f"                LabParameter({swift_string(q['name'])}, {swift_kind(q['kind'])}, "
                     f"default: {swift_string(q['defaultValue'])}{quick}, help: {swift_string(q['help'])}),")
        p.append("            ],")
    else:
        p.append("            parameters: [],")
    if lab["needs"]:
        p.append("            needs: [")
        for n in lab["needs"]:
            p.append(f"                LabNeed({swift_string(n['name'])}, programs: {swift_strings(n['programs'])}, "
                     f"packages: {swift_strings(n['packages'])}),")
        p.append("            ],")
    else:
        p.append("            needs: [],")
    subjects = ", ".join("LabSubject.Kind." + s for s in lab["subjects"])
    p.append(f"            subjects: [{subjects}],")
    p.append(f"            source: {swift_string(lab['source'])}")
    p.append("        ),")
    return "\n".join(p)


def catalogue(json_path):
    try:
        labs = json.load(open(json_path, encoding="utf-8"))
    except ValueError as e:
        fail(f"curriculum-labs catalog did not print JSON: {e}")
    ids = [lab["id"] for lab in labs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        fail("two labs share the id " + ", ".join(duplicates))
    rank = {lab: i for i, lab in enumerate(plan_order())}
    labs.sort(key=lambda lab: (0, rank[lab["id"]], "") if lab["id"] in rank else (1, lab["phase"], lab["id"]))
    entries = "\n".join(swift_info(lab) for lab in labs)
    indented = "\n".join("    " + line if line else line for line in entries.split("\n"))
    write_if_changed(GENERATED,
                     "// Generated by scripts/generate-labs.sh from every lab's `static let info` (the output of\n"
                     "// `curriculum-labs catalog`), in the order of the `labs:` lines of curriculum.yaml. Do not\n"
                     "// edit: change the lab's own file and run the script. Tests/LabsTests/RegistryTests.swift\n"
                     "// fails while this copy and the labs differ.\n"
                     "//\n"
                     "// Plain literals with explicit types: the tracker compiles this and builds the list at\n"
                     "// start-up, so it must type-check fast and cost no decoding. Built unoptimised: the\n"
                     "// optimiser spent 18 of the module's 25 CPU-seconds of a release build on this one\n"
                     "// initialiser, which runs once, in microseconds, either way.\n"
                     "extension LabCatalog {\n"
                     "    static let generated: [LabInfo] = make()\n"
                     "\n"
                     "    @_optimize(none)\n"
                     "    private static func make() -> [LabInfo] {\n"
                     f"        [\n{indented}\n        ]\n"
                     "    }\n"
                     "}\n")


if sys.argv[1] == "registries":
    registries()
elif sys.argv[1] == "catalogue":
    catalogue(sys.argv[2])
else:
    fail("unknown step " + sys.argv[1])
PY

python3 -c "$generator" registries

swift build --product curriculum-labs
bin="$(swift build --product curriculum-labs --show-bin-path)/curriculum-labs"
catalogue=$(mktemp)
trap 'rm -f "$catalogue"' EXIT
"$bin" catalog > "$catalogue"
python3 -c "$generator" catalogue "$catalogue"
