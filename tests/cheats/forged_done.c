/* tests/cheats/forged_done.c - cheat: speaks the runner's protocol itself.
 * fd 3 of its process is the runner's end of the socket to the judge, so
 * after each honest call it sends one extra DONE of its own: the judge then
 * meets a DONE already waiting when it sends the next CALL, and stops its
 * clock before any work was done (a call "in no time"). */
#include <sys/socket.h>
#include "../../kernels/cpu/common/proto.h"
#include "honest.h"

int spak_matmul(int M, int N, int K, const float *A, const float *B, float *C)
{
    honest_matmul(M, N, K, A, B, C);
    rp_done d;
    memset(&d, 0, sizeof d);
    d.h.magic = RP_MAGIC;
    d.h.kind = RP_DONE;
    d.n = 1;
    (void)send(RP_FD, &d, sizeof d, MSG_NOSIGNAL);
    return 0;
}
