/* tests/trust/at_forge_exit.c - cheat (forges the record channel), attention:
 * forged passing and impossibly fast records on stdout, then _exit(0). */
#include "forge.h"

int spak_attention(int B, int H, int S, int D, int causal, const float *Q, const float *K, const float *V,
                   float *O)
{
    (void)B, (void)H, (void)S, (void)D, (void)causal, (void)Q, (void)K, (void)V, (void)O;
    forge_records();
    _exit(0);
}
