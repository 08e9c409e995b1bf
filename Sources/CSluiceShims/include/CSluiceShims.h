#ifndef SLUICE_SHIMS_H
#define SLUICE_SHIMS_H
#include <stddef.h>
#include <stdint.h>

/// MNL_SOCKET_BUFFER_SIZE is a macro computed from the page size; Swift cannot import it.
size_t sluice_mnl_socket_buffer_size(void);

/// setns(fd, CLONE_NEWNET): Glibc's Swift module does not export setns (it needs _GNU_SOURCE).
/// Moves the calling thread into the network namespace `fd` refers to. Returns 0 or -1 (errno set).
int sluice_setns_net(int fd);

#endif
