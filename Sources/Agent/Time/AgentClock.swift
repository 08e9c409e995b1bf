import Foundation
import NIOConcurrencyHelpers

/// A moment as the agent reads it: the wall-clock time it reports (JSON bodies, metric
/// timestamps) and a monotonic time it measures intervals with, so that a wall clock stepped
/// by NTP neither fails nor heals a health check.
public struct AgentInstant: Sendable, Hashable {
    public var wall: Date
    public var monotonic: ContinuousClock.Instant

    public init(wall: Date, monotonic: ContinuousClock.Instant) {
        self.wall = wall
        self.monotonic = monotonic
    }
}

/// Where the health and metrics code reads the time. The agent uses `SystemAgentClock`;
/// tests inject a `ManualAgentClock` and move it instead of sleeping.
public protocol AgentClock: Sendable {
    func now() -> AgentInstant
}

public struct SystemAgentClock: AgentClock {
    public init() {}
    public func now() -> AgentInstant { AgentInstant(wall: Date(), monotonic: .now) }
}

/// A clock that moves only when told to: for tests and simulations of the sync loop.
public final class ManualAgentClock: AgentClock {
    private let current: NIOLockedValueBox<AgentInstant>

    /// Starts at `wall` (monotonic time starts at the process's current instant).
    public init(wall: Date) {
        current = NIOLockedValueBox(AgentInstant(wall: wall, monotonic: .now))
    }

    public func now() -> AgentInstant { current.withLockedValue { $0 } }

    /// Moves both the wall clock and the monotonic clock forward.
    public func advance(by duration: Duration) {
        current.withLockedValue {
            $0.wall += duration.seconds
            $0.monotonic = $0.monotonic.advanced(by: duration)
        }
    }

    /// Steps the wall clock only, as NTP may: intervals measured by the agent must not change.
    public func stepWallClock(by seconds: TimeInterval) {
        current.withLockedValue { $0.wall += seconds }
    }
}

extension Duration {
    /// The duration in seconds, as Prometheus and `Date` count them.
    public var seconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) / 1e18
    }
}
