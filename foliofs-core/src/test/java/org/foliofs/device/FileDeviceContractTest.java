package org.foliofs.device;

import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

/** The BlockDevice contract on an image file on the host file system, with each engine. */
class FileDeviceContractTest {
    @TempDir
    static Path dir;
    private static int counter;

    static BlockDevice open(FileDevice.Engine engine, long capacity) throws Exception {
        return open(FileDevice.Options.defaults().withEngine(engine).withQueueDepth(32), capacity);
    }

    static BlockDevice open(FileDevice.Options options, long capacity) throws Exception {
        Path img = dir.resolve("contract-" + options.engine() + "-" + (counter++) + ".img");
        FileDevice.createImage(img, capacity);
        return FileDevice.open(img, options);
    }

    @Nested
    class Sync extends BlockDeviceContractTest {
        @Override
        protected BlockDevice createDevice(long capacity) throws Exception {
            return open(FileDevice.Engine.SYNC, capacity);
        }

        @Override
        protected boolean kernelFaultsOnUnmappedMemory() { return true; }
    }

    @Nested
    class IoUring extends BlockDeviceContractTest {
        @Override
        protected BlockDevice createDevice(long capacity) throws Exception {
            return open(FileDevice.Engine.IO_URING, capacity);
        }

        @Override
        protected boolean kernelFaultsOnUnmappedMemory() { return true; }
    }

    /** io_uring gathering submissions into one enter per batch, with a small depth (back-pressure). */
    @Nested
    class IoUringBatchedDepth4 extends BlockDeviceContractTest {
        @Override
        protected BlockDevice createDevice(long capacity) throws Exception {
            return open(FileDevice.Options.defaults().withQueueDepth(4).withBatchSubmissions(true), capacity);
        }

        @Override
        protected boolean kernelFaultsOnUnmappedMemory() { return true; }
    }
}
