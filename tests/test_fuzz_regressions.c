/* Replays every saved fuzzing crash input (tests/fuzz/regressions/<harness>/) through the same harness code
 * libFuzzer ran it with (tests/fuzz/fuzz_<harness>.c, compiled here with -DFUZZ_REPLAY semantics), without
 * libFuzzer: in the normal build this proves the fixes hold, under `make test-asan` that no input reads out of
 * bounds, leaks or hits undefined behaviour. Each input runs in a child process with a 20 s alarm, so one crash
 * or hang fails that input and the others still run. Directory: $DETC_FUZZ_REGRESSIONS (default: found from
 * the repository root or tests/). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create (fuzz_model.c), fork, alarm */
#endif
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FUZZ_REPLAY 1
#include "fuzz/fuzz_image.c"
#include "fuzz/fuzz_model.c"
#include "fuzz/fuzz_npy.c"

#include "check.h"
#include "test_files.h"

typedef int (*harness_fn)(const uint8_t *data, size_t size);

static const struct {
    const char *name;
    harness_fn fn;
} harnesses[] = {{"model", fuzz_model_one}, {"image", fuzz_image_one}, {"npy", fuzz_npy_one}};

static const char *regressions_dir(void)
{
    const char *d = getenv("DETC_FUZZ_REGRESSIONS");
    if (d && *d)
        return d;
    static const char *candidates[] = {"fuzz/regressions", "tests/fuzz/regressions", "../tests/fuzz/regressions"};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        DIR *dir = opendir(candidates[i]);
        if (dir) {
            closedir(dir);
            return candidates[i];
        }
    }
    return "tests/fuzz/regressions";
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int main(void)
{
    const char *root = regressions_dir();
    int total = 0;
    for (size_t h = 0; h < sizeof harnesses / sizeof harnesses[0]; h++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", root, harnesses[h].name);
        struct dirent **names = NULL;
        int n = scandir(dir, &names, NULL, by_name);
        for (int i = 0; i < n; i++) {
            const char *f = names[i]->d_name;
            if (f[0] != '.' && strcmp(f, "README.md") != 0) {
                char path[1024];
                snprintf(path, sizeof path, "%s/%s", dir, f);
                size_t len = 0;
                uint8_t *data = test_read_file(path, &len);
                CHECK(data != NULL, "%s: cannot read", path);
                if (data) {
                    fflush(stdout);
                    pid_t pid = fork();
                    if (pid == 0) {
                        alarm(20);
                        harnesses[h].fn(data, len);
                        /* exit, not _exit: under ASan the leak check runs at exit, so nothing of ours may
                         * be left allocated */
                        free(data);
                        for (int k = i; k < n; k++)
                            free(names[k]);
                        free(names);
                        exit(0);
                    }
                    int status = 0;
                    if (pid > 0)
                        waitpid(pid, &status, 0);
                    CHECK(pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "fuzz_%s %s: %s %d (rerun: build-fuzz/fuzz_%s %s)", harnesses[h].name, path,
                          pid > 0 && WIFSIGNALED(status) ? "killed by signal" : "exit status",
                          pid > 0 && WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
                          harnesses[h].name, path);
                    free(data);
                    total++;
                }
            }
            free(names[i]);
        }
        free(names);
    }
    CHECK(total > 0, "no regression inputs found under %s", root);
    printf("replayed %d fuzzing regression inputs from %s\n", total, root);
    return check_summary("test_fuzz_regressions");
}
