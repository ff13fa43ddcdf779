package org.foliofs.device;

import java.util.Objects;

/**
 * Immutable builder of a {@link SimDevice}, from {@link SimDevice#builder()}: every setter returns
 * a new builder, so a configured builder can be shared and varied. Each setter validates its value
 * at once and names it; {@link #build()} checks the values against each other.
 */
public final class SimDeviceBuilder {
    static final SimDeviceBuilder DEFAULTS = new SimDeviceBuilder();

    /** Largest capacity: keeps the block count of any request within an int. */
    public static final long MAX_CAPACITY = 1L << 39;

    long capacity = 64L << 20;
    int logicalBlockSize = 512;
    int physicalBlockSize = 4096;
    boolean volatileWriteCache = true;
    boolean supportsFua = true;
    int atomicMin;
    int atomicMax;
    long seed;
    FaultPlan faultPlan = FaultPlan.none();
    boolean asyncCompletions;

    private SimDeviceBuilder() {}

    private SimDeviceBuilder copy() {
        SimDeviceBuilder b = new SimDeviceBuilder();
        b.capacity = capacity;
        b.logicalBlockSize = logicalBlockSize;
        b.physicalBlockSize = physicalBlockSize;
        b.volatileWriteCache = volatileWriteCache;
        b.supportsFua = supportsFua;
        b.atomicMin = atomicMin;
        b.atomicMax = atomicMax;
        b.seed = seed;
        b.faultPlan = faultPlan;
        b.asyncCompletions = asyncCompletions;
        return b;
    }

    /** Size in bytes: positive, a multiple of 512 (and of the logical block size), at most 512 GiB. */
    public SimDeviceBuilder capacity(long bytes) {
        if (bytes <= 0 || bytes % 512 != 0 || bytes > MAX_CAPACITY) {
            throw new IllegalArgumentException("capacity (" + bytes + ") must be a positive multiple of 512 of at most "
                    + MAX_CAPACITY + " bytes");
        }
        SimDeviceBuilder b = copy();
        b.capacity = bytes;
        return b;
    }

    /** Offset/length granularity and the unit of tearing: a power of two between 512 and 65536. */
    public SimDeviceBuilder logicalBlockSize(int bytes) {
        SimDeviceBuilder b = copy();
        b.logicalBlockSize = blockSize("logicalBlockSize", bytes);
        return b;
    }

    /** Reported physical block size: a power of two between 512 and 65536, at least the logical one. */
    public SimDeviceBuilder physicalBlockSize(int bytes) {
        SimDeviceBuilder b = copy();
        b.physicalBlockSize = blockSize("physicalBlockSize", bytes);
        return b;
    }

    /** True (default): writes are durable only after FUA or FLUSH. False: every write is durable at completion. */
    public SimDeviceBuilder volatileWriteCache(boolean on) {
        SimDeviceBuilder b = copy();
        b.volatileWriteCache = on;
        return b;
    }

    /** True (default): FUA is native. False: a FUA write is emulated by a flush after it. */
    public SimDeviceBuilder supportsFua(boolean on) {
        SimDeviceBuilder b = copy();
        b.supportsFua = on;
        return b;
    }

    /**
     * Untorn ATOMIC write sizes: both 0 (unsupported, the default) or powers of two with
     * min &lt;= max &lt;= 1 MiB, and min at least the logical block size.
     */
    public SimDeviceBuilder atomicWriteUnits(int min, int max) {
        String what = "atomicWriteUnits (min=" + min + ", max=" + max + ")";
        if (min != 0 || max != 0) {
            if (min <= 0 || max <= 0) throw new IllegalArgumentException(what + ": must be both 0 or both positive");
            if (Integer.bitCount(min) != 1 || Integer.bitCount(max) != 1) {
                throw new IllegalArgumentException(what + ": must be powers of two");
            }
            if (min > max) throw new IllegalArgumentException(what + ": min must not exceed max");
            if (max > (1 << 20)) throw new IllegalArgumentException(what + ": max must be at most 1048576");
        }
        SimDeviceBuilder b = copy();
        b.atomicMin = min;
        b.atomicMax = max;
        return b;
    }

    /** Seed of the random choices {@link SimDevice#crash()} makes. */
    public SimDeviceBuilder seed(long seed) {
        SimDeviceBuilder b = copy();
        b.seed = seed;
        return b;
    }

    /** Faults to inject; {@link FaultPlan#none()} by default. */
    public SimDeviceBuilder faultPlan(FaultPlan plan) {
        Objects.requireNonNull(plan, "faultPlan must not be null; use FaultPlan.none()");
        SimDeviceBuilder b = copy();
        b.faultPlan = plan;
        return b;
    }

    /** False (default): complete inline in submit. True: a daemon thread completes in submission order. */
    public SimDeviceBuilder asyncCompletions(boolean on) {
        SimDeviceBuilder b = copy();
        b.asyncCompletions = on;
        return b;
    }

    /** Checks the values against each other and makes the device. */
    public SimDevice build() {
        if (physicalBlockSize < logicalBlockSize) {
            throw new IllegalArgumentException("physicalBlockSize (" + physicalBlockSize
                    + ") must be at least logicalBlockSize (" + logicalBlockSize + ")");
        }
        if (capacity % logicalBlockSize != 0) {
            throw new IllegalArgumentException("capacity (" + capacity + ") must be a multiple of logicalBlockSize ("
                    + logicalBlockSize + ")");
        }
        if (atomicMax != 0 && atomicMin < logicalBlockSize) {
            throw new IllegalArgumentException("atomicWriteUnits min (" + atomicMin
                    + ") must be at least logicalBlockSize (" + logicalBlockSize + ")");
        }
        if (atomicMax > capacity) {
            throw new IllegalArgumentException("atomicWriteUnits max (" + atomicMax + ") must not exceed capacity ("
                    + capacity + ")");
        }
        return SimDevice.create(this);
    }

    private static int blockSize(String name, int bytes) {
        if (bytes < 512 || bytes > 65536 || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException(name + " (" + bytes + ") must be a power of two between 512 and 65536");
        }
        return bytes;
    }

    @Override
    public String toString() {
        return "SimDevice.builder()[capacity=" + capacity + ", lbs=" + logicalBlockSize + ", pbs=" + physicalBlockSize
                + ", volatileWriteCache=" + volatileWriteCache + ", supportsFua=" + supportsFua + ", atomic="
                + atomicMin + ".." + atomicMax + ", seed=" + seed + ", faults=" + faultPlan + ", async="
                + asyncCompletions + "]";
    }
}
