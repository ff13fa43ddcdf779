package org.foliofs.device;

/**
 * The BlockDevice contract on a SimDevice with a completion thread and another geometry: 4 KiB
 * logical blocks, no FUA (emulated by a flush), no ATOMIC support.
 */
class SimDeviceAsyncContractTest extends BlockDeviceContractTest {
    static SimDeviceBuilder base(long capacity) {
        return SimDevice.builder().capacity(capacity).logicalBlockSize(4096).physicalBlockSize(4096)
                .supportsFua(false).asyncCompletions(true).seed(7);
    }

    @Override
    protected BlockDevice createDevice(long capacity) {
        return base(capacity).build();
    }

    @Override
    protected BlockDevice createFailingDevice(long capacity) {
        return base(capacity).faultPlan(FaultPlan.builder().failRange(0, capacity, Errno.EIO).build()).build();
    }
}
