/* ticker: a periodic job on its own thread, woken early by ticker_stop. */
#include "config.h"
#include "fcgi/ticker.h"
#include "fcgi/xmalloc.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ticker {
    pthread_t th;          /* the job's thread */
    pthread_mutex_t mu;    /* guards is_stopping */
    pthread_cond_t cv;     /* signalled by ticker_stop */
    int is_stopping;       /* ticker_stop was called */
    double period_s;       /* seconds from the end of one run to the next */
    void (*job)(void *ud); /* the work */
    void *ud;              /* passed to job */
};

static void *ticker_main(void *arg)
{
    struct ticker *tk = arg;
    long long period_ns = (long long)(tk->period_s * 1e9);
    pthread_mutex_lock(&tk->mu);
    while (!tk->is_stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        long long ns = until.tv_nsec + period_ns % 1000000000LL;
        until.tv_sec += (time_t)(period_ns / 1000000000LL + ns / 1000000000LL);
        until.tv_nsec = (long)(ns % 1000000000LL);
        while (!tk->is_stopping && pthread_cond_timedwait(&tk->cv, &tk->mu, &until) == 0)
            ;
        if (tk->is_stopping)
            break;
        pthread_mutex_unlock(&tk->mu);
        tk->job(tk->ud);
        pthread_mutex_lock(&tk->mu);
    }
    pthread_mutex_unlock(&tk->mu);
    return NULL;
}

struct ticker *ticker_start(double period_s, void (*job)(void *ud), void *ud)
{
    struct ticker *tk = xcalloc(1, sizeof *tk);
    tk->period_s = period_s;
    tk->job = job;
    tk->ud = ud;
    pthread_mutex_init(&tk->mu, NULL);
    pthread_cond_init(&tk->cv, NULL);
    if (pthread_create(&tk->th, NULL, ticker_main, tk) != 0) {
        pthread_mutex_destroy(&tk->mu);
        pthread_cond_destroy(&tk->cv);
        free(tk);
        return NULL;
    }
    return tk;
}

void ticker_stop(struct ticker *tk)
{
    if (!tk)
        return;
    pthread_mutex_lock(&tk->mu);
    tk->is_stopping = 1;
    pthread_cond_signal(&tk->cv);
    pthread_mutex_unlock(&tk->mu);
    pthread_join(tk->th, NULL);
    pthread_mutex_destroy(&tk->mu);
    pthread_cond_destroy(&tk->cv);
    free(tk);
}
