/* loadso PLUGIN: loads a shared object with dlopen and calls into it (how a
 * runner loads a candidate), then maps a page PROT_EXEC and runs code
 * written into it (what a JIT or a code cache does): the syscall filter
 * must allow both. */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    int (*fn)(int);
    void *sym = dlsym(h, "spak_plugin_answer");
    memcpy(&fn, &sym, sizeof fn);
    if (!fn || fn(7) != 42) {
        fprintf(stderr, "plugin: wrong answer\n");
        return 1;
    }
    int jit = 42;
#if defined(__x86_64__)
    static const unsigned char code[] = {0xb8, 0x2a, 0x00, 0x00, 0x00, 0xc3}; /* mov eax,42; ret */
    void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED || (memcpy(page, code, sizeof code), mprotect(page, 4096, PROT_READ | PROT_EXEC)) != 0) {
        perror("mmap/mprotect PROT_EXEC");
        return 1;
    }
    int (*f2)(void);
    memcpy(&f2, &page, sizeof f2);
    jit = f2();
#endif
    if (jit != 42) {
        fprintf(stderr, "exec page: wrong answer\n");
        return 1;
    }
    dlclose(h);
    printf("dlopen=ok exec=ok\n");
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
