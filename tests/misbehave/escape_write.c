/* escape_write PATH: tries to create PATH (outside its working directory).
 * Exits 3 when that fails, prints a result and exits 0 when it got out. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "cannot write %s: %s\n", argv[1], strerror(errno));
        return 3;
    }
    if (write(fd, "escaped\n", 8) != 8)
        return 4;
    close(fd);
    printf("__SPAK_TRACE__ {\"type\":\"Performance\",\"tflops\":1.0}\n");
    return 0;
}
