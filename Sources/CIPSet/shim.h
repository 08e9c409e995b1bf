#ifndef SLUICE_CIPSET_H
#define SLUICE_CIPSET_H
/* libipset: Sluice's ipsets (the IPVS backend). Its variadic callbacks and macros are
   wrapped in CSluiceShims (sluice_ipset_*). */
#include <stdint.h>
#include <stdbool.h>
#include <libipset/ipset.h>
#include <libipset/session.h>
#include <libipset/types.h>
#endif
