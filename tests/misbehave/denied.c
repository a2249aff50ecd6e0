/* denied WHAT: makes one call the sandbox's syscall filter denies, then
 * carries on as if nothing happened: prints what the call returned, a
 * result line, and exits 0. The run must fail all the same, with the call
 * named (or, for the 32-bit and x32 entries, killed by the filter).
 * Without the filter most of these succeed (or fail on permissions only),
 * and the run is ok: that is what the tests' "filter off" runs show. */
#include <errno.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long do_ptrace_traceme(void) { return ptrace(PTRACE_TRACEME, 0, NULL, NULL); }
static long do_ptrace_attach(void) { return ptrace(PTRACE_ATTACH, getppid(), NULL, NULL); }

static long do_vm_readv(void)
{
    static char here[64], there[64];
    struct iovec local = {here, sizeof here}, remote = {there, sizeof there};
    return (long)process_vm_readv(getppid(), &local, 1, &remote, 1, 0);
}

static long do_perf(void)
{
    struct perf_event_attr pa;
    memset(&pa, 0, sizeof pa);
    pa.type = PERF_TYPE_SOFTWARE;
    pa.size = sizeof pa;
    pa.config = PERF_COUNT_SW_TASK_CLOCK;
    pa.exclude_kernel = 1;
    return syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0UL);
}

static long do_bpf(void)
{
    unsigned char attr[128];
    memset(attr, 0, sizeof attr);
    return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr);
}

static long do_keyctl(void)
{
    return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1);
}

static long do_mount(void) { return mount("none", ".", "tmpfs", 0, NULL); }
static long do_unshare(void) { return unshare(CLONE_NEWUSER); }
static long do_socket(void) { return socket(AF_INET, SOCK_STREAM, 0); }

static long do_clone_ns(void)
{
    long pid = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | SIGCHLD), NULL, NULL, NULL, NULL);
    if (pid == 0)
        _exit(0);
    if (pid > 0)
        waitpid((pid_t)pid, NULL, 0);
    return pid;
}

/* ptrace(PTRACE_TRACEME) through the 32-bit entry (i386 number 26): a
 * filter that checks only x86_64 numbers would let it through. */
static long do_int80(void)
{
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(26L), "b"(0L), "c"(0L), "d"(0L) : "memory");
    return ret;
#else
    return -1;
#endif
}

/* getpid through the x32 entry (the syscall number with bit 30 set). */
static long do_x32(void)
{
#if defined(__x86_64__)
    return syscall(0x40000000L | SYS_getpid);
#else
    return -1;
#endif
}

static const struct {
    const char *name;
    long (*fn)(void);
} calls[] = {
    {"ptrace_traceme", do_ptrace_traceme}, {"ptrace_attach", do_ptrace_attach},
    {"vm_readv", do_vm_readv},             {"perf", do_perf},
    {"bpf", do_bpf},                       {"keyctl", do_keyctl},
    {"mount", do_mount},                   {"unshare", do_unshare},
    {"clone_ns", do_clone_ns},             {"socket", do_socket},
    {"int80", do_int80},                   {"x32", do_x32},
};

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        if (strcmp(argv[1], calls[i].name) != 0)
            continue;
        errno = 0;
        long r = calls[i].fn();
        printf("%s returned %ld (%s)\n", argv[1], r, r < 0 ? strerror(errno) : "ok");
        printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
        return 0;
    }
    fprintf(stderr, "denied: unknown call %s\n", argv[1]);
    return 2;
}
