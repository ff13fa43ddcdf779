package org.foliofs.device;

/**
 * Binary layouts of the io_uring ABI (include/uapi/linux/io_uring.h), in one place.
 *
 * <pre>
 * struct io_uring_params (120 bytes)
 *   0 sq_entries  4 cq_entries  8 flags  12 sq_thread_cpu  16 sq_thread_idle  20 features
 *  24 wq_fd  28 resv[3]
 *  40 sq_off: head tail ring_mask ring_entries flags dropped array resv1 (u32 each) user_addr (u64)
 *  80 cq_off: head tail ring_mask ring_entries overflow cqes flags resv1 (u32 each) user_addr (u64)
 *
 * struct io_uring_sqe (64 bytes)
 *   0 opcode u8   1 flags u8   2 ioprio u16   4 fd s32   8 off u64   16 addr u64   24 len u32
 *  28 rw_flags / fsync_flags u32   32 user_data u64   40 buf_index u16   42 personality u16
 *  44 splice_fd_in s32   48 addr3 u64   56 pad u64
 *
 * struct io_uring_cqe (16 bytes)
 *   0 user_data u64   8 res s32   12 flags u32
 * </pre>
 */
final class UringLayout {
    private UringLayout() {}

    static final int PARAMS_SIZE = 120;
    static final long P_SQ_ENTRIES = 0, P_CQ_ENTRIES = 4, P_FLAGS = 8, P_FEATURES = 20;
    static final long P_SQ_OFF = 40, P_CQ_OFF = 80;
    // offsets inside io_sqring_offsets / io_cqring_offsets
    static final long SQO_HEAD = 0, SQO_TAIL = 4, SQO_RING_MASK = 8, SQO_RING_ENTRIES = 12, SQO_FLAGS = 16,
            SQO_DROPPED = 20, SQO_ARRAY = 24;
    static final long CQO_HEAD = 0, CQO_TAIL = 4, CQO_RING_MASK = 8, CQO_RING_ENTRIES = 12, CQO_OVERFLOW = 16,
            CQO_CQES = 20;

    static final int SQE_SIZE = 64, CQE_SIZE = 16;
    static final long SQE_OPCODE = 0, SQE_FLAGS = 1, SQE_IOPRIO = 2, SQE_FD = 4, SQE_OFF = 8, SQE_ADDR = 16,
            SQE_LEN = 24, SQE_RW_FLAGS = 28, SQE_USER_DATA = 32, SQE_BUF_INDEX = 40, SQE_PERSONALITY = 42,
            SQE_SPLICE_FD = 44, SQE_ADDR3 = 48, SQE_PAD = 56;
    static final long CQE_USER_DATA = 0, CQE_RES = 8, CQE_FLAGS = 12;

    // opcodes
    static final byte OP_NOP = 0, OP_READV = 1, OP_WRITEV = 2, OP_FSYNC = 3, OP_READ_FIXED = 4,
            OP_WRITE_FIXED = 5, OP_FALLOCATE = 17, OP_READ = 22, OP_WRITE = 23;
    // sqe flags
    static final byte IOSQE_IO_LINK = 1 << 2;
    static final int IORING_FSYNC_DATASYNC = 1;
    // setup flags, features, enter flags, register opcodes, mmap offsets
    static final int IORING_SETUP_CQSIZE = 1 << 3, IORING_SETUP_CLAMP = 1 << 4, IORING_SETUP_SUBMIT_ALL = 1 << 7,
            IORING_SETUP_COOP_TASKRUN = 1 << 8, IORING_SETUP_SINGLE_ISSUER = 1 << 12, IORING_SETUP_DEFER_TASKRUN = 1 << 13;
    static final int IORING_FEAT_SINGLE_MMAP = 1, IORING_FEAT_NODROP = 1 << 1;
    static final int IORING_ENTER_GETEVENTS = 1;
    static final int IORING_REGISTER_BUFFERS = 0;
    static final long IORING_OFF_SQ_RING = 0, IORING_OFF_CQ_RING = 0x8000000L, IORING_OFF_SQES = 0x10000000L;

    static String opName(byte op) {
        return switch (op) {
            case OP_NOP -> "NOP";
            case OP_READV -> "READV";
            case OP_WRITEV -> "WRITEV";
            case OP_FSYNC -> "FSYNC";
            case OP_READ_FIXED -> "READ_FIXED";
            case OP_WRITE_FIXED -> "WRITE_FIXED";
            case OP_FALLOCATE -> "FALLOCATE";
            case OP_READ -> "READ";
            case OP_WRITE -> "WRITE";
            default -> "op " + op;
        };
    }
}
