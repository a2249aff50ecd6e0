/* tests/trust/mm_socket.c - cheat (a channel of its own): on its first call it
 * opens a new TCP socket and tries to connect to 127.0.0.1:9, the way a
 * candidate would send results out or talk to a helper; whatever the
 * answer, it then computes honestly. The syscall filter must deny new
 * sockets beyond the judge's protocol and fail the evaluation. */
#include "trust.h"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    static bool done;
    if (!done) {
        done = true;
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) {
            fprintf(stderr, "mm_socket: socket: %s\n", strerror(errno));
        } else {
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9)};
            a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int r = connect(s, (struct sockaddr *)&a, sizeof a);
            fprintf(stderr, "mm_socket: socket opened, connect: %s\n", r == 0 ? "connected" : strerror(errno));
            close(s);
        }
    }
    trust_mm(M, N, K, A, B, C);
    return 0;
}
