/* Periodic jobs: a function run every period on a thread of its own, stopped at once when
 * asked (between runs; a run under way is not interrupted). */
#ifndef OA_TICKER_H
#define OA_TICKER_H

struct ticker;

/* Starts a thread that calls job(ud) every period_s seconds, counted from the end of one run
 * to the start of the next (the first run after one period). Heap-owned; stop and free it with
 * ticker_stop. NULL when the thread cannot start. */
struct ticker *ticker_start(double period_s, void (*job)(void *ud), void *ud);
/* Stops the ticker: waits for a run under way to return (a long job should watch a stop flag
 * of its own), joins the thread and frees tk. Accepts NULL. */
void ticker_stop(struct ticker *tk);

#endif
