package org.foliofs.pagecache;

/**
 * No folio memory could be found within the configured stall timeout: everything cached is dirty,
 * locked, referenced or under writeback, and writeback made no room. The message names the budget
 * and what holds it.
 */
public final class CacheFullException extends RuntimeException {
    CacheFullException(String message) {
        super(message);
    }
}
