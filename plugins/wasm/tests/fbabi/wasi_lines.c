/*
 * A WASI command for the exec_wasi input: writes a JSON line, a plain line,
 * and the first line of greeting.txt when it can open it (through the
 * directories exec_wasi preopens with accessible_paths), else a line saying
 * it could not.
 */
#include <stdio.h>
#include <string.h>

int main(void)
{
    char line[256];
    FILE *f;

    printf("{\"n\":1,\"msg\":\"hello from wasi\"}\n");
    printf("plain text\n");
    f = fopen("greeting.txt", "r");
    if (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\n")] = '\0';
        printf("{\"greeting\":\"%s\"}\n", line);
        fclose(f);
    } else {
        printf("{\"greeting\":null}\n");
    }
    return 0;
}
