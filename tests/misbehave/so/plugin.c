/* plugin.so: a shared object that loadso dlopens, as the runner loads a
 * candidate. */
int spak_plugin_answer(int x);
int spak_plugin_answer(int x)
{
    return x * 6;
}
