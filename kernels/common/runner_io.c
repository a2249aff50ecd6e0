/* runner_io.c - the runner's end of its socket (runner_io.h). */
#include "runner_io.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner_proto.h"

ssize_t rp_recv(void *buf, size_t cap, int *fds, int nfd)
{
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int) * 4)];
    } cm;
    struct iovec iov = {buf, cap};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
    for (int i = 0; i < nfd; i++)
        fds[i] = -1;
    ssize_t n;
    do
        n = recvmsg(RP_FD, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n <= 0)
        return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < got; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (i < nfd)
                fds[i] = fd;
            else
                close(fd);
        }
    }
    return n;
}

void rp_send(const void *m, size_t n)
{
    while (send(RP_FD, m, n, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}
