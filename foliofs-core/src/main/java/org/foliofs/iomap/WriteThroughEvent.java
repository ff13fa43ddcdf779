package org.foliofs.iomap;

import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.Event;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;

/**
 * A JFR event per buffered write-through call ({@link WriteThrough}), with the time of each of its
 * stages, so that a recording shows where a write's latency goes: the copy and issue, the device,
 * the hand-off to the end-of-I/O thread, the end-of-I/O work (an atomic write's remap), the DSYNC
 * (journal commit or FLUSH), the hand-off after it and the release. Recorded only while a JFR
 * recording enables {@code org.foliofs.WriteThrough}; otherwise a call pays one check. For
 * example: {@code FOLIOFS_JAVA_OPTS="-XX:StartFlightRecording:filename=wt.jfr,settings=profile,+org.foliofs.WriteThrough#enabled=true"}
 * then {@code jfr print --events org.foliofs.WriteThrough wt.jfr}.
 */
@Name("org.foliofs.WriteThrough")
@Label("FolioFS Write-Through Call")
@Category({"FolioFS", "I/O"})
@Description("One buffered write-through call and the time of each of its stages")
@StackTrace(false)
final class WriteThroughEvent extends Event {
    @Label("Position") long position;
    @Label("Length") @DataAmount long length;
    @Label("Atomic") boolean atomic;
    @Label("DSYNC") boolean dsync;
    @Label("Asynchronous") boolean async;
    @Label("Failed") boolean failed;
    @Label("Copy and Issue") @Description("From the call's start (inode lock held) to its last device request issued") @Timespan long issue;
    @Label("Device") @Description("From the last request issued to the last one completed") @Timespan long device;
    @Label("To End of I/O") @Description("From the last completion to the end-of-I/O work starting (a thread hand-off for an asynchronous call)") @Timespan long toEnd;
    @Label("End-of-I/O Work") @Description("Unwritten conversion, copy-on-write or atomic remap, size update") @Timespan long endWork;
    @Label("DSYNC") @Description("Journal commit or FLUSH, until its completion callback; 0 without DSYNC") @Timespan long sync;
    @Label("To Release") @Description("From the DSYNC's completion to the release starting (a thread hand-off)") @Timespan long toRelease;
    @Label("Release") @Description("Folio release, the call's end and its completion") @Timespan long release;
}
