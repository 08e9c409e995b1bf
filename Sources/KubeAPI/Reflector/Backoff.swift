/// Exponential backoff with jitter for reconnecting to the API server: doubles from
/// `initial` up to `maximum`, each delay drawn in [delay·(1−jitter), delay], and starts over
/// once a connection has stayed healthy for `resetAfter`.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    public var jitter: Double
    public var resetAfter: Duration
    private var attempt = 0

    public init(initial: Duration = .milliseconds(800), maximum: Duration = .seconds(30), jitter: Double = 0.5, resetAfter: Duration = .seconds(60)) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
        self.resetAfter = resetAfter
    }

    /// The delay before the next attempt.
    public mutating func next<G: RandomNumberGenerator>(using rng: inout G) -> Duration {
        var delay = initial
        for _ in 0..<min(attempt, 32) {
            delay *= 2
            if delay >= maximum { break }
        }
        delay = min(delay, maximum)
        attempt += 1
        let factor = 1 - jitter * Double.random(in: 0...1, using: &rng)
        return delay * factor
    }

    public mutating func next() -> Duration {
        var rng = SystemRandomNumberGenerator()
        return next(using: &rng)
    }

    /// Call after a connection that stayed up for `healthyFor`.
    public mutating func connectionEnded(healthyFor: Duration) {
        if healthyFor >= resetAfter { attempt = 0 }
    }

    public mutating func reset() { attempt = 0 }
    public var attempts: Int { attempt }
}
