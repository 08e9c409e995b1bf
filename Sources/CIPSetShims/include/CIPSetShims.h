#ifndef SLUICE_CIPSET_SHIMS_H
#define SLUICE_CIPSET_SHIMS_H
#include <stddef.h>
#include <stdint.h>

/// libipset, one restore-syntax command at a time (Sources/CSluiceShims/ipset.c says why).
/// Not thread-safe: libipset keeps a process-wide cache of set types; one user at a time.
typedef struct sluice_ipset sluice_ipset;
sluice_ipset *sluice_ipset_new(void);
void sluice_ipset_free(sluice_ipset *s);
/// Runs one line as `ipset restore` would ("create NAME TYPE ...", "add NAME ELEM", "swap A B",
/// "save"). Returns 0, or non-zero with the reason in sluice_ipset_error. Adds and deletes to
/// one set are gathered into one netlink message until sluice_ipset_commit.
int sluice_ipset_line(sluice_ipset *s, const char *line);
int sluice_ipset_commit(sluice_ipset *s);
const char *sluice_ipset_error(const sluice_ipset *s);
/// What listing commands printed since the last clear.
const char *sluice_ipset_output(const sluice_ipset *s, size_t *length);
void sluice_ipset_clear_output(sluice_ipset *s);
/// The kernel's index of set `name` in this network namespace (what the xt "set" match
/// refers to). 0, or -errno (-ENOENT: no such set).
int sluice_ipset_index(const char *name, uint16_t *index);

#endif
