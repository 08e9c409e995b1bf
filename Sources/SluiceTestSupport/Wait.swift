import Foundation

/// Polls `condition` every 20 ms for up to `limit` seconds; returns the seconds it took, or nil.
public func waitFor(_ limit: Double, _ condition: () throws -> Bool) rethrows -> Double? {
    let start = Date()
    while Date().timeIntervalSince(start) < limit {
        if try condition() { return Date().timeIntervalSince(start) }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition() ? Date().timeIntervalSince(start) : nil
}
