package org.foliofs.bench;

/**
 * One device benchmark case: a pattern, a block size, a queue depth and an engine. The same
 * parameters are given to fio, so each line compares like with like.
 *
 * @param name      short label, e.g. "randwrite 4k qd32"
 * @param random    random offsets (else sequential, wrapping at the end of the file)
 * @param blockSize bytes per write
 * @param depth     requests in flight (io_uring) or submitting threads (sync)
 */
record Workload(String name, boolean random, int blockSize, int depth) {
    Workload {
        if (blockSize <= 0 || blockSize % 4096 != 0) {
            throw new IllegalArgumentException("blockSize (" + blockSize + ") must be a positive multiple of 4096");
        }
        if (depth < 1 || depth > 1024) throw new IllegalArgumentException("depth (" + depth + ") must be between 1 and 1024");
    }

    String fioRw() { return random ? "randwrite" : "write"; }

    String fioBs() { return blockSize % (1 << 20) == 0 ? (blockSize >> 20) + "m" : (blockSize >> 10) + "k"; }
}
