// OpenBLAS sgemm timing peer for bench/GemmBenchmarks.cs: the same shapes, row-major, best-of-N wall time.
// Build: gcc -O2 -o sgemm_peer sgemm_peer.c -lopenblas
// Run:   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(bench/peers/peer_env.sh | grep OPENBLAS) OPENBLAS_NUM_THREADS=2 ./sgemm_peer
//        (peer_env.sh sets OPENBLAS_CORETYPE where OpenBLAS 0.3.21 would not use the CPU's widest vectors; the first
//        output line names the kernel it runs)
// Each line: name ta tb M N K best-wall-ms GFLOP/s, then process CPU time per call (all threads) and flops per CPU-second.
// Optional argument: a substring of the shape names to run.
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

typedef struct { const char *name; int ta, tb, m, n, k; } Shape;

static const Shape shapes[] = {
    {"square256", 0, 0, 256, 256, 256},
    {"square512", 0, 0, 512, 512, 512},
    {"square1024", 0, 0, 1024, 1024, 1024},
    {"square2048", 0, 0, 2048, 2048, 2048},
    {"square1024-TN", 1, 0, 1024, 1024, 1024},
    {"square1024-NT", 0, 1, 1024, 1024, 1024},
    {"square1024-TT", 1, 1, 1024, 1024, 1024},
    {"conv-fwd-img-32x27x1024", 0, 0, 32, 1024, 27},
    {"conv-fwd-img-64x576x1024", 0, 0, 64, 1024, 576},
    {"conv-fwd-img-128x1152x1024", 0, 0, 128, 1024, 1152},
    {"conv-fwd-batch-32x27x131072", 0, 0, 32, 131072, 27},
    {"conv-fwd-batch-32x288x131072", 0, 0, 32, 131072, 288},
    {"conv-fwd-batch-64x576x32768", 0, 0, 64, 32768, 576},
    {"conv-wgrad-img-64x576x1024", 0, 1, 64, 576, 1024},
    {"conv-wgrad-batch-64x576x32768", 0, 1, 64, 576, 32768},
    {"conv-igrad-img-576x64x1024", 1, 0, 576, 1024, 64},
    {"conv-igrad-batch-576x64x32768", 1, 0, 576, 32768, 64},
    {"dense-fwd-128x512x3072", 0, 0, 128, 512, 3072},
    {"dense-dW-3072x512x128", 1, 0, 3072, 512, 128},
    {"dense-dX-128x3072x512", 0, 1, 128, 3072, 512},
    {"dense-fwd-128x256x512", 0, 0, 128, 256, 512},
    {"dense-fwd-128x10x64", 0, 0, 128, 10, 64},
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Process CPU time (all threads): robust against other processes on a shared machine for single-threaded runs.
static double cputime(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    printf("# core=%s config=%s threads=%d\n", openblas_get_corename(), openblas_get_config(), openblas_get_num_threads());
    const char *only = argc > 1 ? argv[1] : NULL;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        Shape sh = shapes[s];
        if (only && !strstr(sh.name, only)) continue;
        size_t na = (size_t)sh.m * sh.k, nb = (size_t)sh.k * sh.n, nc = (size_t)sh.m * sh.n;
        float *a = aligned_alloc(64, (na * 4 + 63) / 64 * 64), *b = aligned_alloc(64, (nb * 4 + 63) / 64 * 64),
              *c = aligned_alloc(64, (nc * 4 + 63) / 64 * 64);
        for (size_t i = 0; i < na; i++) a[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
        for (size_t i = 0; i < nb; i++) b[i] = (float)((i * 104729) % 1000) / 1000.0f - 0.5f;
        memset(c, 0, nc * 4);
        int lda = sh.ta ? sh.m : sh.k, ldb = sh.tb ? sh.k : sh.n;
        double flops = 2.0 * sh.m * sh.n * sh.k;
        // Enough repetitions for ~0.3 s per shape, at least 5; report the best.
        int reps = (int)(0.3 * 100e9 / flops);
        if (reps < 5) reps = 5;
        if (reps > 20000) reps = 20000;
        double best = 1e30, cpu0 = 0;
        for (int r = 0; r < reps + 2; r++) {
            if (r == 2) cpu0 = cputime();
            double t0 = now();
            cblas_sgemm(CblasRowMajor, sh.ta ? CblasTrans : CblasNoTrans, sh.tb ? CblasTrans : CblasNoTrans,
                        sh.m, sh.n, sh.k, 1.0f, a, lda, b, ldb, 0.0f, c, sh.n);
            double t = now() - t0;
            if (r >= 2 && t < best) best = t;
        }
        double cpu = (cputime() - cpu0) / reps;
        printf("%-32s %d %d %6d %6d %6d %10.4f ms %8.1f GFLOP/s  cpu/call %9.4f ms  -> %7.1f GFLOP/cpu-s\n", sh.name, sh.ta,
               sh.tb, sh.m, sh.n, sh.k, best * 1e3, flops / best * 1e-9, cpu * 1e3, flops / cpu * 1e-9);
        free(a); free(b); free(c);
    }
    return 0;
}
