/* filler MODE [PATH]: writes in ways a byte budget must bound, then prints a
 * result and exits 0 (a program that shrugs off ENOSPC: the sandbox, not
 * its exit status, must say the budget was exhausted).
 *   bytes  1 MiB files in its directory until a write fails
 *   files  empty files in its directory until one cannot be made
 *   out    outside its directory: new files in /dev/shm, /tmp, /var/tmp,
 *          and PATH (an existing world-writable file) appended to; prints
 *          "escaped PATH" for each that worked
 *   keep   prints pre.txt, writes kept.txt and sub/deep.txt, a symlink,
 *          removes gone.txt: what must be copied back out of the budget */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void fill_bytes(void)
{
    static char buf[1 << 20];
    memset(buf, 'F', sizeof buf);
    int mib = 0, e = 0;
    for (int i = 0; i < 100000 && !e; i++) {
        char name[32];
        snprintf(name, sizeof name, "fill-%05d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            e = errno;
            break;
        }
        ssize_t w = write(fd, buf, sizeof buf);
        if (w != (ssize_t)sizeof buf)
            e = w < 0 ? errno : ENOSPC;
        else
            mib++;
        close(fd);
    }
    printf("wrote %d MiB: %s\n", mib, strerror(e));
}

static void fill_files(void)
{
    int n = 0, e = 0;
    for (int i = 0; i < 10000000; i++) {
        char name[32];
        snprintf(name, sizeof name, "f%07d", i);
        int fd = open(name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) {
            e = errno;
            break;
        }
        close(fd);
        n++;
    }
    printf("made %d files: %s\n", n, strerror(e));
}

static void try_out(const char *path, int flags)
{
    int fd = open(path, O_WRONLY | flags, 0666);
    if (fd < 0) {
        printf("refused %s: %s\n", path, strerror(errno));
        return;
    }
    if (write(fd, "spilled\n", 8) == 8)
        printf("escaped %s\n", path);
    close(fd);
}

static void keep(void)
{
    char pre[64] = "";
    int fd = open("pre.txt", O_RDONLY);
    if (fd >= 0) {
        ssize_t k = read(fd, pre, sizeof pre - 1);
        pre[k > 0 ? k : 0] = 0;
        close(fd);
    }
    printf("pre=%s\n", pre);
    FILE *f = fopen("kept.txt", "w");
    if (f) {
        fputs("kept\n", f);
        fclose(f);
    }
    mkdir("sub", 0755);
    f = fopen("sub/deep.txt", "w");
    if (f) {
        fputs("deep\n", f);
        fclose(f);
    }
    if (symlink("kept.txt", "link") < 0)
        perror("symlink");
    unlink("gone.txt");
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "bytes"))
        fill_bytes();
    else if (!strcmp(argv[1], "files"))
        fill_files();
    else if (!strcmp(argv[1], "out")) {
        try_out("/dev/shm/spak-filler", O_CREAT | O_TRUNC);
        try_out("/tmp/spak-filler", O_CREAT | O_TRUNC);
        try_out("/var/tmp/spak-filler", O_CREAT | O_TRUNC);
        if (argc > 2)
            try_out(argv[2], O_APPEND);
    } else if (!strcmp(argv[1], "keep"))
        keep();
    else
        return 2;
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
