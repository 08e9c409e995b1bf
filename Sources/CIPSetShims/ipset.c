// libipset behind a small surface Swift can call. Why a shim: libipset reports errors and
// prints listings through printf-style variadic callbacks (Swift cannot implement a C
// variadic function), its default error callbacks call exit() in non-interactive use, and the
// set index the xt "set" match needs comes from a getsockopt with a kernel struct.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <libipset/ipset.h>
#include <libipset/session.h>
#include <libipset/types.h>
#include <libipset/linux_ip_set.h>
#include "CIPSetShims.h"

struct sluice_ipset {
    struct ipset *ipset;
    char error[1024];
    char *output;
    size_t output_length;
    size_t output_capacity;
};

static pthread_once_t types_once = PTHREAD_ONCE_INIT;
static void load_types(void) { ipset_load_types(); }

static void append_output(struct sluice_ipset *s, const char *fmt, va_list ap) {
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n <= 0) return;
    size_t need = s->output_length + (size_t)n + 1;
    if (need > s->output_capacity) {
        size_t cap = s->output_capacity ? s->output_capacity : 65536;
        while (cap < need) cap *= 2;
        char *grown = realloc(s->output, cap);
        if (!grown) return;
        s->output = grown;
        s->output_capacity = cap;
    }
    vsnprintf(s->output + s->output_length, (size_t)n + 1, fmt, ap);
    s->output_length += (size_t)n;
}

static int print_out(struct ipset_session *session, void *p, const char *fmt, ...) {
    (void)session;
    va_list ap;
    va_start(ap, fmt);
    append_output(p, fmt, ap);
    va_end(ap);
    return 0;
}

// Keeps the message and returns the status, where libipset's default would exit().
static int custom_error(struct ipset *ipset, void *p, int status, const char *msg, ...) {
    struct sluice_ipset *s = p;
    if (msg) {
        va_list ap;
        va_start(ap, msg);
        vsnprintf(s->error, sizeof s->error, msg, ap);
        va_end(ap);
    }
    struct ipset_session *session = ipset_session(ipset);
    if (!msg && session && ipset_session_report_msg(session))
        snprintf(s->error, sizeof s->error, "%s", ipset_session_report_msg(session));
    if (session) ipset_session_report_reset(session);
    return status ? status : -1;
}

static int standard_error(struct ipset *ipset, void *p) {
    struct sluice_ipset *s = p;
    struct ipset_session *session = ipset_session(ipset);
    enum ipset_err_type type = ipset_session_report_type(session);
    const char *msg = ipset_session_report_msg(session);
    if (msg) snprintf(s->error, sizeof s->error, "%s", msg);
    ipset_session_report_reset(session);
    // Warnings (an element already there with -exist semantics, say) are not failures.
    return type == IPSET_ERROR ? -1 : 0;
}

struct sluice_ipset *sluice_ipset_new(void) {
    pthread_once(&types_once, load_types);
    struct sluice_ipset *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->ipset = ipset_init();
    if (!s->ipset) {
        free(s);
        return NULL;
    }
    ipset_custom_printf(s->ipset, custom_error, standard_error, print_out, s);
    return s;
}

void sluice_ipset_free(struct sluice_ipset *s) {
    if (!s) return;
    ipset_fini(s->ipset);
    free(s->output);
    free(s);
}

int sluice_ipset_line(struct sluice_ipset *s, const char *line) {
    s->error[0] = 0;
    // ipset_parse_line splits its argument in place.
    char *copy = strdup(line);
    if (!copy) return -ENOMEM;
    int r = ipset_parse_line(s->ipset, copy);
    free(copy);
    return r;
}

int sluice_ipset_commit(struct sluice_ipset *s) {
    s->error[0] = 0;
    int r = ipset_commit(ipset_session(s->ipset));
    if (r < 0) standard_error(s->ipset, s);
    return r;
}

const char *sluice_ipset_error(const struct sluice_ipset *s) { return s->error; }

const char *sluice_ipset_output(const struct sluice_ipset *s, size_t *length) {
    *length = s->output_length;
    return s->output ? s->output : "";
}

void sluice_ipset_clear_output(struct sluice_ipset *s) { s->output_length = 0; }

int sluice_ipset_index(const char *name, uint16_t *index) {
    int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0) return -errno;
    struct ip_set_req_get_set req;
    memset(&req, 0, sizeof req);
    req.op = IP_SET_OP_GET_BYNAME;
    req.version = IPSET_PROTOCOL;
    snprintf(req.set.name, sizeof req.set.name, "%s", name);
    socklen_t size = sizeof req;
    int r = getsockopt(fd, SOL_IP, SO_IP_SET, &req, &size);
    int e = errno;
    close(fd);
    if (r < 0) return -e;
    if (req.set.index == IPSET_INVALID_ID) return -ENOENT;
    *index = req.set.index;
    return 0;
}
