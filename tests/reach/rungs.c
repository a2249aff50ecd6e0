/* The reach tests' candidate (tests/suites/reach.sh): a fast rung that K
 * acts on and a naive one that ignores it; J acts on nothing. The measure
 * command names neither K nor J, so only the preprocessed source can say
 * whether they reach a point's candidate. */
double score(void);

double score(void)
{
#if defined(SPAK_RUNG_FAST)
    return 100.0 * (K == 1 ? 0.80 : K == 2 ? 1.00 : 0.90);
#else
    return 10.0;
#endif
}
