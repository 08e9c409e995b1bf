#define _GNU_SOURCE
#include <sched.h>
#include "CSluiceShims.h"
#include <libmnl/libmnl.h>

size_t sluice_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }

int sluice_setns_net(int fd) { return setns(fd, CLONE_NEWNET); }
