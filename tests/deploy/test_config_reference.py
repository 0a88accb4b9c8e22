#!/usr/bin/env python3
"""The configuration reference (docs/configuration.md) against the code:

- every environment variable a process reads (lib/, services/, gateway/) is documented,
  in a section about the processes rather than only among the scripts' or tests' settings;
- every documented variable is read somewhere: by a process or a script (the processes'
  sections), by a script, a test or a benchmark (their own sections);
- every MERCATO_* variable that a script or test reads is documented too;
- no process reads a variable whose name is not written out literally (the check above
  could not see it) unless an "mc-env: NAME, …" comment next to the read names the
  variables it reads.

Before that, the scanner proves on made-up sources that it finds reads through helpers and
refuses names it cannot see, so a broken scanner cannot make this test pass."""
import os
import re
import tempfile

import mcdeploy as m

F = m.Failures("config-reference")

# --- the scanner on made-up sources -------------------------------------------------------
SAMPLE = r'''
/* mc_env_str("IN_A_COMMENT", NULL) is no read */
static bool seconds(const char *what, const char *def, unsigned *out)
{
    const char *v = mc_env_str(what, def);  // forwards its first parameter
    return v != NULL;
}
static const char *twice(int unused, const char *name) { return seconds(name, "1", NULL) ? "" : NULL; }
const char *mc_env_str(const char *name, const char *def);
int main(void)
{
    const char *s = "mc_env_str(\"IN_A_STRING\")";
    seconds("VIA_HELPER", "30", NULL);
    twice(0, "VIA_TWO_HELPERS");
    mc_env_int("LITERAL_INT", 1, 0, 2);
    char name[16] = "X";
    getenv(name);
    static const char *const table[] = {"FROM_TABLE_A", "FROM_TABLE_B"};
    /* mc-env: FROM_TABLE_A, FROM_TABLE_B */
    for (int i = 0; i < 2; ++i)
        mc_env_str(table[i], NULL);
    return s != NULL;
}
'''
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "sample.c")
    with open(path, "w") as f:
        f.write(SAMPLE)
    reads, unresolved, readers = m.scan_env_reads([path])
    F.check(set(reads) == {"VIA_HELPER", "VIA_TWO_HELPERS", "LITERAL_INT", "FROM_TABLE_A", "FROM_TABLE_B"},
            f"scanner self-test: found {sorted(reads)}, expected VIA_HELPER, VIA_TWO_HELPERS, LITERAL_INT and "
            f"FROM_TABLE_A/B (declared by a marker)")
    F.check(readers.get("seconds") == {0} and readers.get("twice") == {1},
            f"scanner self-test: helpers found {readers}")
    F.check(len(unresolved) == 1 and "getenv(name" in unresolved[0],
            f"scanner self-test: unresolved reads {unresolved}, expected the getenv(name) one")

# --- the real code against the reference --------------------------------------------------
reads, unresolved, readers = m.process_env_reads()
docs = m.documented_vars()
F.check(len(reads) >= 20 and "JWT_LEEWAY_SECONDS" in reads and "INTERNAL_API_KEY_FILE" in reads,
        f"the scan of the processes' code found only {sorted(reads)}; the scanner is broken")

for u in unresolved:
    F.fail(f"{u}: reads an environment variable whose name is not a string literal; write the "
           f"name out (lib/mc_config.h), or name the variables it may read in a comment "
           f"\"mc-env: NAME, OTHER\" on that line or just above, so {m.CONFIG_DOC} can be checked against it")

for name in sorted(reads):
    where = ", ".join(reads[name])
    if name not in docs:
        F.fail(f"{name} is read by {where} but is not in {m.CONFIG_DOC}: add a row (default, "
               f"meaning) to the table of the section it belongs to")
    else:
        section, line, is_process = docs[name]
        F.check(is_process, f"{name} is read by {where} but {m.CONFIG_DOC}:{line} documents it only "
                            f"under '{section}' (scripts and tests); document it with the processes' settings")

not_read_by_processes = [n for n in docs if n not in reads]
elsewhere = m.other_reads(not_read_by_processes)
for name in sorted(not_read_by_processes):
    section, line, is_process = docs[name]
    if is_process and name in elsewhere:
        # Documented for the processes ahead of the code that will read it (a service URL
        # before the service that calls it lands); the scripts already pass it on.
        print(f"note: {name} ({m.CONFIG_DOC}:{line}) is read by {elsewhere[name]} but by no process yet")
    elif is_process:
        F.fail(f"{name} is documented in {m.CONFIG_DOC}:{line} (section '{section}') but nothing reads "
               f"it (scanned {', '.join(m.PROCESS_DIRS + m.OTHER_DIRS)}); remove the row or read the variable")
    else:
        F.check(name in elsewhere,
                f"{name} is documented in {m.CONFIG_DOC}:{line} (section '{section}') but nothing reads it "
                f"(scanned {', '.join(m.PROCESS_DIRS + m.OTHER_DIRS)}); remove the row or read the variable")

# MERCATO_* variables read by scripts and tests.
mercato_reads = {}
for path in m.walk_files(m.OTHER_DIRS, exts=[".c", ".h", ".py", ".js", ".mjs", ".sh"],
                         names=["run", "setup", "test"]):
    try:
        text = m.read(path)
    except UnicodeDecodeError:
        continue
    for pat in (r'getenv\(\s*"(MERCATO_\w+)"', r'environ(?:\.get)?\s*[\[(]\s*["\'](MERCATO_\w+)["\']',
                r'process\.env\.(MERCATO_\w+)', r'\$\{(MERCATO_\w+)'):
        for name in re.findall(pat, text):
            mercato_reads.setdefault(name, m.rel(path))
F.check(len(mercato_reads) >= 3, f"found only {sorted(mercato_reads)} MERCATO_* reads in scripts and tests")
for name in sorted(mercato_reads):
    F.check(name in docs, f"{name} is read by {mercato_reads[name]} but is not in {m.CONFIG_DOC}")

print(f"{len(reads)} variables read by the processes, {len(docs)} documented, "
      f"{len(mercato_reads)} MERCATO_* read by scripts and tests")
F.finish()
