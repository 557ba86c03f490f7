/* main: load the config, open the log, run the server in the mode the environment asks for. */
#include "config.h"
#include "fcgi/cfg.h"
#include "fcgi/log.h"
#include "fcgi/server.h"

#include <stdio.h>

int main(int argc, char **argv)
{
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
    rc = server_run(&cfg);
    log_fini();
    config_free(&cfg);
    return rc;
}
