/*
 * Implementation of mc_secret.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_config.h"
#include "mc_secret.h"

#define MC_SECRET_STR_(x) #x
#define MC_SECRET_STR(x) MC_SECRET_STR_(x)
#define MC_SECRET_MAX_FILE_STR MC_SECRET_STR(MC_SECRET_MAX_FILE)

/* Every value read from a file, chained from a static head: the values are the settings
 * of the process and are never freed, and a leak checker sees them reachable. */
typedef struct secret_value {
    struct secret_value *next;
    char data[MC_SECRET_MAX_FILE + 1];
} secret_value_t;
static secret_value_t *kept;

/* Reads the secret file `path` named by the variable `var`; exits(2) on any problem, so
 * it never returns NULL. */
static char *read_secret_file(const char *var, const char *path)
{
    char why[320];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(why, sizeof(why), "cannot open '%.200s': %s", path, strerror(errno));
        mc_config_die(var, why);
    }
    secret_value_t *v = malloc(sizeof(*v));
    char *buf = v != NULL ? v->data : NULL;
    size_t n = buf != NULL ? fread(buf, 1, MC_SECRET_MAX_FILE + 1, f) : 0;
    const char *problem = NULL;
    if (buf == NULL || ferror(f))
        problem = "cannot be read";
    fclose(f);
    if (problem == NULL && n > MC_SECRET_MAX_FILE)
        problem = "is larger than " MC_SECRET_MAX_FILE_STR " bytes";
    if (problem == NULL) {
        if (n > 0 && buf[n - 1] == '\n')
            --n;
        if (n > 0 && buf[n - 1] == '\r')
            --n;
        if (n == 0)
            problem = "is empty";
        else if (memchr(buf, '\0', n) != NULL)
            problem = "holds a NUL byte";
    }
    if (problem != NULL) {
        free(v);
        snprintf(why, sizeof(why), "'%.200s' %s", path, problem);
        mc_config_die(var, why);
    }
    buf[n] = '\0';
    v->next = kept;
    kept = v;
    return buf;
}

const char *mc_env_secret(const char *name, const char *file_name)
{
    const char *value = mc_env_str(name, NULL);
    const char *path = mc_env_str(file_name, NULL);
    if (value != NULL && path != NULL) {
        char why[160];
        snprintf(why, sizeof(why), "set either %.64s or %.64s, not both", name, file_name);
        mc_config_die(file_name, why);
    }
    return path != NULL ? read_secret_file(file_name, path) : value;
}
