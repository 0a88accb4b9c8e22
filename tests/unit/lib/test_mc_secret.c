/*
 * Unit tests of lib/mc_secret.c: a secret from NAME or from the file NAME_FILE names, and
 * every way a misconfiguration stops the process (exit status 2 and a line naming the
 * variable on stderr). Refusals are observed in a forked child, since they exit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "mc_secret.h"

#define VAR "MC_TEST_SECRET"
#define FILE_VAR "MC_TEST_SECRET_FILE"

static char dir[64];

static int setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/mc_secret_XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    unsetenv(VAR);
    unsetenv(FILE_VAR);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes `len` bytes to <dir>/<name> and returns the path (static buffer). */
static const char *write_file(const char *name, const void *data, size_t len)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

/* Runs mc_env_secret in a child; returns its exit status (-1 if it did not exit) and
 * what it wrote on stderr. */
static int run_child(char *err, size_t errlen)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        const char *v = mc_env_secret(VAR, FILE_VAR);
        _exit(v == NULL ? 10 : 11);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (n < errlen - 1 && (r = read(fds[0], err + n, errlen - 1 - n)) > 0)
        n += (size_t)r;
    err[n] = '\0';
    close(fds[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void unset_is_null(void **state)
{
    assert_null(mc_env_secret(VAR, FILE_VAR));
    setenv(VAR, "", 1);
    setenv(FILE_VAR, "", 1);
    assert_null(mc_env_secret(VAR, FILE_VAR)); /* empty counts as unset */
}

static void from_variable(void **state)
{
    setenv(VAR, "s3cret-from-the-environment", 1);
    assert_string_equal(mc_env_secret(VAR, FILE_VAR), "s3cret-from-the-environment");
}

static void from_file_trailing_newline_dropped(void **state)
{
    setenv(FILE_VAR, write_file("a", "key-in-a-file\n", 14), 1);
    assert_string_equal(mc_env_secret(VAR, FILE_VAR), "key-in-a-file");
    setenv(FILE_VAR, write_file("b", "crlf-key\r\n", 10), 1);
    assert_string_equal(mc_env_secret(VAR, FILE_VAR), "crlf-key");
    /* Only one newline goes: a second one is part of the secret. */
    setenv(FILE_VAR, write_file("c", "two\n\n", 5), 1);
    assert_string_equal(mc_env_secret(VAR, FILE_VAR), "two\n");
    /* The largest file accepted. */
    char big[MC_SECRET_MAX_FILE];
    memset(big, 'k', sizeof(big));
    setenv(FILE_VAR, write_file("d", big, sizeof(big)), 1);
    const char *v = mc_env_secret(VAR, FILE_VAR);
    assert_int_equal(strlen(v), MC_SECRET_MAX_FILE);
}

static void both_set_refused(void **state)
{
    char err[512];
    setenv(VAR, "from-env", 1);
    setenv(FILE_VAR, write_file("e", "from-file", 9), 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "config: " FILE_VAR ": set either " VAR " or " FILE_VAR ", not both"));
}

static void bad_files_refused(void **state)
{
    char err[512], path[128];
    snprintf(path, sizeof(path), "%s/missing", dir);
    setenv(FILE_VAR, path, 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "config: " FILE_VAR ": cannot open"));

    setenv(FILE_VAR, write_file("empty", "", 0), 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "is empty"));

    setenv(FILE_VAR, write_file("nl", "\n", 1), 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "is empty"));

    setenv(FILE_VAR, write_file("nul", "ab\0cd", 5), 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "holds a NUL byte"));

    char big[MC_SECRET_MAX_FILE + 1];
    memset(big, 'k', sizeof(big));
    setenv(FILE_VAR, write_file("big", big, sizeof(big)), 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "is larger than 4096 bytes"));

    /* A directory cannot be read as a file. */
    setenv(FILE_VAR, dir, 1);
    assert_int_equal(run_child(err, sizeof(err)), 2);
    assert_non_null(strstr(err, "cannot be read"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(unset_is_null, setup, teardown),
        cmocka_unit_test_setup_teardown(from_variable, setup, teardown),
        cmocka_unit_test_setup_teardown(from_file_trailing_newline_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(both_set_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_files_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
