/*
 * runner_io.h - the runner's end of its socket (RP_FD, runner_proto.h): one
 * message in with the fds it carries, one message out. Linked into both
 * runners (spak-runner-cpu, spak-runner-cuda), so the code that reads what
 * the judge sends into the sandbox is one code.
 */
#ifndef SPAK_RUNNER_IO_H
#define SPAK_RUNNER_IO_H

#include <stddef.h>
#include <sys/types.h>

/* Receives one message of at most cap bytes on RP_FD and up to nfd fds
 * (fds[i] = -1 where none came; fds beyond nfd are closed, never leaked);
 * retries on EINTR. Returns its length, 0 at EOF, -1 on error. */
ssize_t rp_recv(void *buf, size_t cap, int *fds, int nfd);

/* Sends one message of n bytes on RP_FD (retried on EINTR; a judge that is
 * gone is no signal: MSG_NOSIGNAL). */
void rp_send(const void *m, size_t n);

#endif
