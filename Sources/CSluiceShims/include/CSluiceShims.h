#ifndef SLUICE_SHIMS_H
#define SLUICE_SHIMS_H
#include <stddef.h>
#include <stdint.h>

/// MNL_SOCKET_BUFFER_SIZE is a macro computed from the page size; Swift cannot import it.
size_t sluice_mnl_socket_buffer_size(void);

#endif
