package org.foliofs.device;

/** The BlockDevice contract on a SimDevice completing inline, with ATOMIC support. */
class SimDeviceContractTest extends BlockDeviceContractTest {
    static SimDeviceBuilder base(long capacity) {
        return SimDevice.builder().capacity(capacity).atomicWriteUnits(4096, 65536).seed(42);
    }

    @Override
    protected BlockDevice createDevice(long capacity) {
        return base(capacity).build();
    }

    @Override
    protected BlockDevice createFailingDevice(long capacity) {
        return base(capacity).faultPlan(FaultPlan.builder().failAfter(0, Errno.EIO).build()).build();
    }
}
