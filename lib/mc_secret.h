/*
 * mc_secret: a secret from an environment variable or from the file another variable
 * names.
 *
 * Orchestrators hand secrets to a process as files (Compose secrets and volumes,
 * Kubernetes Secret volumes) as readily as variables, and a file keeps the secret out of
 * the process environment, which child processes inherit and which /proc and crash
 * reporters expose. So a secret setting NAME has a twin NAME_FILE; setting both is a
 * mistake the process refuses to start with, like any malformed setting (mc_config.h).
 * Both names are passed literally so docs/configuration.md can be checked against them.
 */
#ifndef MC_SECRET_H
#define MC_SECRET_H

#include <stddef.h>

/* The largest secret file read, in bytes (keys, passwords and URIs are far smaller). */
#define MC_SECRET_MAX_FILE 4096

/* Returns the value of the variable `name`, or the contents of the file that the variable
 * `file_name` names (one trailing "\n" or "\r\n" dropped: such files are often written
 * with echo), or NULL when neither is set (an empty value counts as unset). Exits(2) with
 * a message naming the variable when both are set, when the file cannot be read, is empty
 * or larger than MC_SECRET_MAX_FILE, or holds a NUL byte. A value read from a file lives
 * until the process exits. Call it at start, before any thread reads the environment. */
const char *mc_env_secret(const char *name, const char *file_name);

#endif
