/* Unit tests for fcgi/config.c: precedence, validation, .env parsing. */
#include "config.h"
#include "fcgi/cfg.h"
#include "tests/unit/tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int load(struct config *c, int argc, const char *const *argv, char *err)
{
    return config_load(c, argc, argv, "test", err, 512);
}

int main(void)
{
    char err[512];
    struct config c;
    char dir[] = "/tmp/oa-cfg-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char envpath[600];
    snprintf(envpath, sizeof envpath, "%s/.env", dir);
    setenv("ENV_FILE", envpath, 1);
    unsetenv("PORT");
    unsetenv("WORKER_THREADS");
    unsetenv("SQLITE_PATH");

    const char *argv0[] = {"one-api", NULL};
    is_int(load(&c, 1, argv0, err), 0, "defaults load");
    is_int(cfg_int(&c, CFG_PORT), 3000, "PORT defaults to 3000");
    is_str(cfg_str(&c, CFG_SQLITE_PATH), "one-api.db", "SQLITE_PATH default");
    is_str(cfg_str(&c, CFG_SQL_DSN), "", "unset strings read as empty");
    config_free(&c);

    FILE *fp = fopen(envpath, "w");
    fprintf(fp, "# comment\nPORT=4000\nexport SQLITE_PATH=\"/tmp/x.db\"\nDEBUG=true\n"
                "SOME_OTHER=1\n");
    fclose(fp);
    is_int(load(&c, 1, argv0, err), 0, ".env loads");
    is_int(cfg_int(&c, CFG_PORT), 4000, ".env overrides the default");
    is_str(cfg_str(&c, CFG_SQLITE_PATH), "/tmp/x.db", "quotes and export are understood");
    is_int(cfg_int(&c, CFG_DEBUG), 1, "booleans parse");
    config_free(&c);

    setenv("PORT", "5000", 1);
    is_int(load(&c, 1, argv0, err), 0, "env loads");
    is_int(cfg_int(&c, CFG_PORT), 5000, "the environment outranks .env");
    config_free(&c);

    const char *argv1[] = {"one-api", "--port", "6000", "--threads=8", NULL};
    is_int(load(&c, 4, argv1, err), 0, "flags load");
    is_int(cfg_int(&c, CFG_PORT), 6000, "flags outrank the environment");
    is_int(cfg_int(&c, CFG_THREADS), 8, "--name=value form");
    config_free(&c);

    const char *argv2[] = {"one-api", "--threads", "abc", NULL};
    is_int(load(&c, 3, argv2, err), -1, "a bad integer refuses to start");
    ok(strstr(err, "WORKER_THREADS") != NULL, "the message names the setting: %s", err);
    config_free(&c);

    setenv("WORKER_THREADS", "0", 1);
    is_int(load(&c, 1, argv0, err), -1, "out of range refuses to start");
    ok(strstr(err, "WORKER_THREADS") && strstr(err, "1..65536"), "and says the range: %s", err);
    config_free(&c);
    unsetenv("WORKER_THREADS");

    setenv("NODE_TYPE", "boss", 1);
    is_int(load(&c, 1, argv0, err), -1, "a value outside the choices refuses to start");
    ok(strstr(err, "NODE_TYPE") && strstr(err, "master|slave"), "names the choices: %s", err);
    config_free(&c);
    unsetenv("NODE_TYPE");

    /* The example value is the application's to replace (it logs and goes on). */
    setenv("SESSION_SECRET", "random_string", 1);
    is_int(load(&c, 1, argv0, err), 0, "the example SESSION_SECRET loads");
    is_str(cfg_str(&c, CFG_SESSION_SECRET), "random_string", "as it is");
    config_free(&c);
    unsetenv("SESSION_SECRET");

    const char *argv3[] = {"one-api", "--nope", NULL};
    is_int(load(&c, 2, argv3, err), -1, "an unknown flag is refused");
    config_free(&c);

    fp = fopen(envpath, "w");
    fprintf(fp, "garbage line\n");
    fclose(fp);
    is_int(load(&c, 1, argv0, err), -1, "a malformed .env line is refused");
    ok(strstr(err, ":1:") != NULL, "with its line number: %s", err);
    config_free(&c);

    unlink(envpath);
    rmdir(dir);
    unsetenv("ENV_FILE");
    unsetenv("PORT");
    return done_testing();
}
