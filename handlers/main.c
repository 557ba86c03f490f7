/* main: the one-api program is the FastCGI/CGI runtime serving this application. */
#include "config.h"
#include "fcgi/server.h"
#include "handlers/app.h"

int main(int argc, char **argv)
{
    return server_main(argc, argv, &app_server);
}
