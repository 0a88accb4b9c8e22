"""What the deployment tests share: where things are, which environment variables the
processes read (found in the C sources), which ones docs/configuration.md documents, and a
small way to report every failure of a test at once.

The processes read every setting through a few functions (getenv, mc_env_str/int/bool and
helpers that pass a name on to them, such as mc_env_secret or mc_jwt.c's parse_seconds),
with the name written out literally (lib/mc_config.h promises it). The scanner finds the
helpers by itself: a function that passes one of its parameters as the name to a reading
function reads the variable its caller names there. A reading call whose name is neither a
literal nor such a parameter is reported, because the documentation could not be checked
against it, unless a comment "mc-env: NAME, OTHER_NAME" on its line or just above names the
variables it reads."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOOLS = os.environ.get("MERCATO_TOOLS") or os.path.join(ROOT, ".tools")
CONFIG_DOC = "docs/configuration.md"

# Where the processes' code lives (their settings must be documented).
PROCESS_DIRS = ["lib", "services", "gateway"]
# Where scripts, tests and benchmarks live (a documented variable may be read there).
OTHER_DIRS = ["scripts", "tests", "bench", "cmake", ".ci"]
OTHER_FILES = ["CMakeLists.txt"]

# Functions that read the environment variable named by their first argument.
BASE_READERS = {"getenv": {0}, "secure_getenv": {0}, "mc_env_str": {0}, "mc_env_int": {0},
                "mc_env_bool": {0}}

ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


class Failures:
    """Collects failures so a test reports all of them, then exits non-zero if any."""

    def __init__(self, name):
        self.name = name
        self.items = []
        self.checks = 0

    def check(self, ok, message):
        self.checks += 1
        if not ok:
            self.items.append(message)
        return ok

    def fail(self, message):
        self.check(False, message)

    def finish(self):
        for m in self.items:
            print(f"FAIL: {m}")
        print(f"{self.name}: {self.checks} checks, {len(self.items)} failed")
        sys.exit(1 if self.items else 0)


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(os.path.join(ROOT, path) if not os.path.isabs(path) else path, encoding="utf-8") as f:
        return f.read()


def walk_files(dirs, exts=None, names=None):
    """Files under ROOT/dirs (skipping build output and installed tools)."""
    out = []
    for d in dirs:
        top = os.path.join(ROOT, d)
        if os.path.isfile(top):
            out.append(top)
            continue
        for base, subdirs, files in os.walk(top):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith(("build", ".tools", ".data", ".git", "node_modules")))
            for f in sorted(files):
                if (exts is None or f.endswith(tuple(exts))) or (names and f in names):
                    out.append(os.path.join(base, f))
    return out


# --- C scanning ------------------------------------------------------------------------

def strip_c_comments(src):
    """Blanks out comments (keeping newlines, so line numbers stay right) and leaves
    string and character literals alone."""
    out, i, n = [], 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("".join(ch if ch == "\n" else " " for ch in src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            out.append(src[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def mask_literals(src):
    """src with the inside of every string and character literal replaced by spaces (same
    length), so that a search for calls does not find text inside a literal."""
    out, i = [], 0
    while i < len(src):
        if src[i] in "\"'":
            j = _skip_literal(src, i)
            out.append(src[i] + " " * max(0, j - i - 2) + src[j - 1:j])
            i = j
        else:
            out.append(src[i])
            i += 1
    return "".join(out)


def _skip_literal(src, i):
    q = src[i]
    j = i + 1
    while j < len(src) and src[j] != q:
        j += 2 if src[j] == "\\" else 1
    return j + 1


def split_args(src, open_paren):
    """The top-level arguments of the call whose "(" is at open_paren, as (text, offset)
    pairs, and the index after the closing ")"."""
    depth, i, start, args = 0, open_paren, open_paren + 1, []
    while i < len(src):
        c = src[i]
        if c in "\"'":
            i = _skip_literal(src, i)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append((src[start:i], start))
                return args, i + 1
        elif c == "," and depth == 1:
            args.append((src[start:i], start))
            start = i + 1
        i += 1
    return args, len(src)


CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
DECLARATION = re.compile(r"^(const\s+)?(unsigned\s+|signed\s+|struct\s+)?\w+(\s+\w+)?[\s*]+\w+$|^void$")
KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "defined", "__attribute__", "_Static_assert"}


def functions(src):
    """(name, [parameter names], body start, body end) of each function definition."""
    out, depth, i = [], 0, 0
    while i < len(src):
        c = src[i]
        if c in "\"'":
            i = _skip_literal(src, i)
            continue
        if c == "{":
            if depth == 0:
                head = src[max(0, src.rfind(";", 0, i), src.rfind("}", 0, i), src.rfind("#", 0, i)):i]
                m = re.search(r"\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*(__attribute__\s*\(\(.*\)\)\s*)?$", head, re.S)
                if m and m.group(1) not in KEYWORDS and "=" not in head:
                    params = []
                    for p in m.group(2).split(","):
                        pm = re.search(r"([A-Za-z_]\w*)\s*(\[[^\]]*\])?\s*$", p.strip())
                        params.append(pm.group(1) if pm else None)
                    body_start = i
                    # find the matching brace
                    d, j = 0, i
                    while j < len(src):
                        cj = src[j]
                        if cj in "\"'":
                            j = _skip_literal(src, j)
                            continue
                        if cj == "{":
                            d += 1
                        elif cj == "}":
                            d -= 1
                            if d == 0:
                                break
                        j += 1
                    out.append((m.group(1), params, body_start, j))
                    i = j + 1
                    continue
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return out


def c_string_literal(arg):
    m = re.fullmatch(r'\s*"((?:[^"\\]|\\.)*)"\s*', arg)
    return m.group(1) if m else None


def scan_env_reads(files, base_readers=None):
    """Scans C files for environment reads. Returns (reads, unresolved, readers):
    reads maps a variable to the "file:line" places reading it; unresolved lists
    "file:line: call" reads whose name is not a literal; readers maps every reading
    function (found helpers included) to the argument positions holding a name."""
    readers = {k: set(v) for k, v in (base_readers or BASE_READERS).items()}
    units, masked, markers = [], {}, {}
    for path in files:
        raw = read(path)
        src = strip_c_comments(raw)
        units.append((path, src, functions(src)))
        masked[path] = mask_literals(src)
        # "mc-env: NAME, NAME" in a comment declares the variables a read that names them
        # indirectly (a table of settings, say) reads; it must stand on the line of that
        # read or within the three lines above it.
        for mk in re.finditer(r"mc-env:\s*([A-Z][A-Z0-9_]*(?:\s*,\s*[A-Z][A-Z0-9_]*)*)", raw):
            line = raw.count("\n", 0, mk.start()) + 1
            markers.setdefault(path, []).append((line, re.split(r"\s*,\s*", mk.group(1))))
    # Helpers: functions passing a parameter on as a name, until nothing new is found.
    changed = True
    while changed:
        changed = False
        for path, src, funcs in units:
            for name, params, b0, b1 in funcs:
                for m in CALL.finditer(masked[path], b0, b1):
                    callee = m.group(1)
                    if callee not in readers or callee == name:
                        continue
                    args, _ = split_args(src, m.end() - 1)
                    for pos in readers[callee]:
                        if pos < len(args):
                            a = args[pos][0].strip()
                            if a in params:
                                k = params.index(a)
                                if k not in readers.setdefault(name, set()):
                                    readers[name].add(k)
                                    changed = True
    reads, unresolved = {}, []
    for path, src, funcs in units:
        spans = [(b0, b1, params) for _, params, b0, b1 in funcs]
        for m in CALL.finditer(mask_literals(src)):
            callee = m.group(1)
            if callee not in readers:
                continue
            args, _ = split_args(src, m.end() - 1)
            line = src.count("\n", 0, m.start()) + 1
            where = f"{rel(path)}:{line}"
            inside = [p for b0, b1, p in spans if b0 <= m.start() < b1]
            # A declaration or the head of a definition, not a call.
            if not inside and args and DECLARATION.match(args[0][0].strip()):
                continue
            for pos in sorted(readers[callee]):
                if pos >= len(args):
                    continue
                a = args[pos][0].strip()
                lit = c_string_literal(a)
                if lit is not None and ENV_NAME.match(lit):
                    reads.setdefault(lit, []).append(where)
                elif inside and a in inside[0]:
                    continue  # a helper passing its own parameter on
                else:
                    near = [names for ml, names in markers.get(path, []) if line - 3 <= ml <= line]
                    for names in near:
                        for n in names:
                            reads.setdefault(n, []).append(where)
                    if not near:
                        unresolved.append(f"{where}: {callee}({a}, ...)")
    return reads, unresolved, readers


def process_sources():
    return walk_files(PROCESS_DIRS, exts=[".c", ".h"])


def process_env_reads():
    return scan_env_reads(process_sources())


# --- the configuration reference ------------------------------------------------------

SCRIPT_SECTION = re.compile(r"^(`?scripts/|tests?\b|scripts?\b|benchmarks?\b|deploy)", re.I)


def documented_vars(path=CONFIG_DOC):
    """Maps every variable named in the first column of a table of docs/configuration.md
    to (section title, line number, is_process_section). A section is about scripts,
    tests or benchmarks when its title starts with `scripts/…`, "Tests", "Scripts",
    "Benchmarks" or "Deploy"; every other section documents the processes."""
    out, section = {}, ""
    for n, line in enumerate(read(path).splitlines(), 1):
        if line.startswith("#"):
            section = line.lstrip("#").strip()
            continue
        if not line.startswith("|") or re.match(r"^\|\s*-", line):
            continue
        first = line.split("|")[1]
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", first):
            out.setdefault(name, (section, n, not SCRIPT_SECTION.match(section)))
    return out


READ_PATTERNS = [
    r'getenv\(\s*"{n}"', r'mc_env_\w+\(\s*"{n}"',  # C
    r'environ(?:\.get)?\s*[\[(]\s*["\']{n}["\']', r'getenv\(\s*["\']{n}["\']',  # Python
    r'process\.env(?:\.{n}\b|\[\s*["\']{n}["\'])',  # JavaScript
    r'\$ENV\{{{n}\}}',  # CMake
    r'\$\{{?{n}\b',  # shell
]


def other_reads(names):
    """For each name, the first file outside the processes' code that reads it (scripts,
    tests, benchmarks, CMake), or nothing."""
    files = walk_files(OTHER_DIRS, exts=[".c", ".h", ".py", ".js", ".mjs", ".cmake", ".sh", ".txt"],
                       names=["run", "setup", "test", "ferretdb"]) + [os.path.join(ROOT, f) for f in OTHER_FILES]
    texts = []
    for f in files:
        try:
            texts.append((f, read(f)))
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            pass
    found = {}
    for name in names:
        pats = [re.compile(p.format(n=re.escape(name))) for p in READ_PATTERNS]
        for f, t in texts:
            if any(p.search(t) for p in pats):
                found[name] = rel(f)
                break
    return found


# The processes and their ports (DESIGN.md).
PROCESSES = {"gateway": 4000, "auth": 4001, "product": 4002, "order": 4003, "category": 4004, "coupon": 4005}


def call_graph(path="docs/services.md"):
    """The table "Calls between processes" of docs/services.md as {(caller, callee):
    internal key?}."""
    text = read(path)
    start = text.index("## Calls between processes")
    end = text.find("\n## ", start + 1)
    edges = {}
    for line in text[start:end if end > 0 else None].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] in ("caller", "") or cells[0].startswith("-"):
            continue
        for callee in re.split(r"\s*,\s*", cells[1]):
            edges[(cells[0], callee)] = cells[3].lower() == "yes"
    return edges


def urls_needed(process, edges=None):
    """The <SERVICE>_URL variables a process needs: one per service it calls."""
    edges = call_graph() if edges is None else edges
    return {callee.upper() + "_URL" for (caller, callee) in edges if caller == process}


def needs_internal_key(process, edges=None):
    edges = call_graph() if edges is None else edges
    return any(k and process in pair for pair, k in edges.items())
