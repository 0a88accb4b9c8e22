/*
 * Email delivery: the outbox and the delivery loop.
 *
 * Handlers never talk to an SMTP server. They insert the message into the `outbox`
 * collection in the same database job as the change it reports (a new account, a reset
 * token) and kick the delivery loop. So a message exists exactly when its cause does, and
 * an SMTP server that is down, slow or misconfigured delays mail, never loses it and never
 * slows a request.
 *
 * The loop runs on worker 0 of every auth process (SMTP_URL set): every MAIL_POLL_MS, and
 * at once when kicked, it reads up to a batch of due pending messages, claims them, and
 * sends each over SMTP with libcurl on the thread pool. A failed attempt is retried after
 * MAIL_RETRY_BASE_MS·2^(attempt-1) (±20 %, at most MAIL_RETRY_MAX_MS) until the message
 * expires (a token message when its token does, others after three days); a permanent
 * refusal (an SMTP 5xx reply other than an authentication failure) marks it failed.
 *
 * Never twice, with any number of processes. An attempt is claimed by inserting
 * outbox_claims/_id "<message>:<attempt>" — a unique key, so of all the processes that
 * try, exactly one gets attempt k. The holder of attempt k is the only writer of the
 * message until it either records success (outbox_sent/_id <message>, unique as well) or
 * moves the message to attempt k+1. A holder that dies leaves its claim behind: once the
 * claim's lease (MAIL_LEASE_SECONDS) has run out, the next process claims attempt k+1
 * instead. A holder only starts an SMTP exchange while at least SMTP_TIMEOUT_MS + 30 s of
 * its lease remain, and libcurl ends the exchange within SMTP_TIMEOUT_MS, so two
 * exchanges of one message never overlap as long as clocks agree within 30 s; a claimant
 * checks outbox_sent before sending. The one case left is the unavoidable one of SMTP
 * itself: a process that dies (or stalls past its lease) after the server accepted the
 * message but before outbox_sent was written — then the message is sent again, with the
 * same Message-ID, so receivers can drop it.
 *
 * A message's text holds the token of its link in clear — the one place a token is not
 * stored as a hash — so it is erased as soon as the message is settled (delivered,
 * refused, expired; a token message expires with its token), and the janitor deletes
 * settled messages a week after their expiry.
 *
 * SMTP_URL unset: messages wait in the outbox until an auth process with SMTP_URL runs.
 * SMTP_URL=log: (not in production): messages are written to the service log instead.
 */
#ifndef AUTH_MAILER_H
#define AUTH_MAILER_H

#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mail.h"
#include "service.h"

/* Composes a message of `kind` to `to` and inserts it into the outbox (blocking: inside a
 * database job). token may be NULL for kinds without one; expires_ms is when the message
 * stops being worth sending. 0 or -1 (err set). */
int auth_mail_enqueue(mongoc_database_t *db, auth_mail_kind_t kind, const char *to, const char *name,
                      const char *token, unsigned valid_s, int64_t now_ms, int64_t expires_ms, bson_error_t *err);

/* Starts the delivery loop on aw's worker (worker 0), when SMTP_URL is set. 0 or -1. */
int auth_mailer_start(auth_worker_t *aw);
/* Stops it: no new attempt starts; attempts in flight finish (their outcome is recorded)
 * and the state is freed once the last one has. */
void auth_mailer_stop(auth_worker_t *aw);

/* Process-wide set-up (libcurl) before any thread starts, and tear-down after. */
void auth_mailer_global_init(void);
void auth_mailer_global_dispose(void);

#endif
