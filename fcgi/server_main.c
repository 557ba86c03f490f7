/* server_main: the program around server_run: load the config, open the log, run the server
 * in the mode the environment asks for. main() lives with the application (handlers/main.c). */
#include "config.h"
#include "fcgi/cfg.h"
#include "fcgi/log.h"
#include "fcgi/server.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc keeps a per-thread cache of freed blocks (tcache); with one thread per open stream
 * that cache held ~25 KB per thread, 50 of 210 MB with 2,000 streams (bench/relay.sh).
 * Tunables are read only at process start, so a FastCGI process that was not given one
 * re-executes itself once with the cache off. An explicit GLIBC_TUNABLES tcache setting is
 * kept; plain CGI (one short request per process) is not re-executed. */
static void reexec_without_tcache(char **argv)
{
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OA_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define OA_ASAN 1
#endif
#if !defined(OA_ASAN) && defined(__GLIBC__)
    const char *t = getenv("GLIBC_TUNABLES");
    const char *pre = getenv("LD_PRELOAD");
    if (getenv("GATEWAY_INTERFACE") || (t && strstr(t, "glibc.malloc.tcache_count")))
        return;
    /* Under valgrind /proc/self/exe is valgrind's tool, and its malloc replaces glibc's. */
    if (pre && strstr(pre, "vgpreload"))
        return;
    char val[1024];
    int n = snprintf(val, sizeof val, "%s%sglibc.malloc.tcache_count=0", t ? t : "",
                     t && *t ? ":" : "");
    if (n < 0 || (size_t)n >= sizeof val || setenv("GLIBC_TUNABLES", val, 1) != 0)
        return;
    /* The real path, not /proc/self/exe: the kernel names a process (comm, what ps, top and
     * pgrep show) after the file it executes, and "exe" would replace "one-api". */
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        execv(self, argv);
    }
    /* Replaced or deleted since it started (the path then ends in " (deleted)"): the running
     * image is still reachable through /proc. */
    execv("/proc/self/exe", argv);
    /* No /proc (a chroot): run as we are, with the cache. */
#else
    (void)argv;
#endif
}

int server_main(int argc, char **argv, const struct server_app *app)
{
    reexec_without_tcache(argv);
    struct config cfg;
    char err[512] = "";
    int rc = config_load(&cfg, argc, (const char *const *)argv, "one-api " PACKAGE_VERSION, err,
                         sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "one-api: %s\n", err);
        config_free(&cfg);
        return rc < 0 ? 2 : 0;
    }
    log_init(cfg_str(&cfg, CFG_LOG_DIR), (int)cfg_int(&cfg, CFG_ONLY_ONE_LOG_FILE),
             (int)cfg_int(&cfg, CFG_DEBUG));
    rc = server_run(&cfg, app);
    log_fini();
    config_free(&cfg);
    return rc;
}
