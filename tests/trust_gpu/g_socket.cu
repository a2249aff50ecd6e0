/* tests/trust_gpu/g_socket.cu - cheat (a denied system call): on its first
 * call, a new AF_INET socket and a connect to 127.0.0.1:9 (to reach a
 * helper outside the sandbox); then honest. The filter must deny sockets
 * beyond the protocol's. */
#include "tg_gemm.cuh"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

TG_GEMM_INFO("g_socket")

extern "C" int spak_gemm(int M, int N, int K, int dtype, const void *A, const void *B, void *C, cudaStream_t s)
{
    static bool done;
    if (!done) {
        done = true;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        fprintf(stderr, "g_socket: socket: %s\n", fd >= 0 ? "created" : strerror(errno));
        if (fd >= 0) {
            struct sockaddr_in sa;
            memset(&sa, 0, sizeof sa);
            sa.sin_family = AF_INET;
            sa.sin_port = htons(9);
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
            fprintf(stderr, "g_socket: connect: %s\n", r == 0 ? "connected" : strerror(errno));
            close(fd);
        }
    }
    return tg_gemm(M, N, K, dtype, A, B, C, s);
}
