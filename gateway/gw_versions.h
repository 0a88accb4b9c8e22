/*
 * gw_versions: the last version of each order an event was delivered for, so that a
 * duplicate (the order service publishes at least once) or an older event arriving late
 * is dropped once per worker rather than once per subscriber.
 *
 * Bounded: at most `capacity` orders are remembered; the one changed least recently is
 * forgotten first. Duplicates arrive soon after the original (a retried publish, the
 * sweeper after a crash), long before an order busy enough to stay in the table would
 * be pushed out. Pure; unit-tested.
 */
#ifndef GW_VERSIONS_H
#define GW_VERSIONS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct gw_versions gw_versions_t;

/* NULL when out of memory. */
gw_versions_t *gw_versions_create(unsigned capacity);
void gw_versions_free(gw_versions_t *v);
/* True when `version` is newer than every version seen for the order `id` (which is then
 * remembered); false for a version seen before or an older one. */
bool gw_versions_admit(gw_versions_t *v, const char *id, int64_t version);
/* Orders remembered. */
unsigned gw_versions_count(const gw_versions_t *v);

#endif
